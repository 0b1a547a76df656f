"""Console accounts: local users with roles, sessions, API tokens, the login rate limit and the
audit log, all in one SQLite file apart from the event store.

Start with :class:`console.auth.accounts.Accounts`.
"""
