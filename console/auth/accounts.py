"""Everything about who may use the console, over one accounts file.

>>> import tempfile
>>> accounts = Accounts.open(f"{tempfile.mkdtemp()}/console.db")
>>> accounts.users.add("ana", "correct horse battery", Role.analyst).role
<Role.analyst: 'analyst'>
>>> accounts.users.authenticate("ana", "wrong password") is None
True
>>> accounts.close()
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from console.auth.audit import AuditLog
from console.auth.db import AccountsDB
from console.auth.ratelimit import LoginRateLimit
from console.auth.roles import Role
from console.auth.saved_queries import SavedQueries
from console.auth.sessions import Sessions
from console.auth.tokens import Tokens
from console.auth.users import User, Users
from liaowang.config import ConsoleSettings

FIRST_ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: a logged-in user (with the session's CSRF token) or a token."""

    username: str
    role: Role
    session_id: str | None = None
    csrf_token: str | None = None
    token_id: str | None = None

    @property
    def actor(self) -> str:
        """The name the audit log shows: the user, or ``token:<name>``."""
        return f"token:{self.username}" if self.token_id else self.username


class Accounts:
    """Users, sessions, tokens, the login rate limit and the audit log."""

    def __init__(self, db: AccountsDB, settings: ConsoleSettings,
                 clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.users = Users(db, hasher)
        self.sessions = Sessions(db, settings.session_ttl_s, clock)
        self.tokens = Tokens(db, clock)
        self.audit = AuditLog(db, clock)
        self.saved_queries = SavedQueries(db, clock)
        self.rate_limit = LoginRateLimit(db, settings.login_max_failures,
                                         settings.login_window_s, clock)

    @classmethod
    def open(cls, path: str | Path, settings: ConsoleSettings | None = None,
             clock: Callable[[], float] = time.time,
             hasher: PasswordHasher | None = None) -> Accounts:
        return cls(AccountsDB(path), settings or ConsoleSettings(), clock, hasher)

    def create_first_admin(self) -> tuple[User, str] | None:
        """On first run (no users at all): ``admin`` with a random password, returned once."""
        if self.users.count():
            return None
        password = secrets.token_urlsafe(15)
        user = self.users.add(FIRST_ADMIN, password, Role.admin)
        self.audit.record("liaowang up", "user.create", FIRST_ADMIN, "local", "first run")
        return user, password

    def close(self) -> None:
        self.db.close()
