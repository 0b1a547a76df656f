"""Saved hunt queries, per user, in the accounts file: an analyst finds them on any browser.

>>> import tempfile
>>> from console.auth.db import AccountsDB
>>> saved = SavedQueries(AccountsDB(f"{tempfile.mkdtemp()}/console.db"))
>>> entry = saved.save("ana", "S7 stops", "s7comm.function:41", "24h")
>>> [q.name for q in saved.list("ana")], saved.list("li")
(['S7 stops'], [])
>>> saved.delete("li", entry.id), saved.delete("ana", entry.id)
(False, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from console.auth.db import AccountsDB

MAX_PER_USER = 200
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS saved_queries (id INTEGER PRIMARY KEY, username TEXT NOT NULL, "
    "name TEXT NOT NULL, query TEXT NOT NULL, range TEXT NOT NULL, created_at REAL NOT NULL, "
    "UNIQUE (username, name))",
)


class TooManySavedQueries(Exception):
    """A user already keeps :data:`MAX_PER_USER` queries."""


@dataclass(frozen=True, slots=True)
class SavedQuery:
    id: int
    name: str
    query: str
    range: str
    created_at: float


class SavedQueries:
    """Named queries of each user; saving a name again replaces that query."""

    def __init__(self, db: AccountsDB, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock
        for statement in _SCHEMA:
            db.execute(statement)

    def list(self, username: str) -> list[SavedQuery]:
        rows = self._db.fetch("SELECT id, name, query, range, created_at FROM saved_queries "
                              "WHERE username = ? ORDER BY name", [username])
        return [SavedQuery(*row) for row in rows]

    def save(self, username: str, name: str, query: str, range_: str) -> SavedQuery:
        with self._db.transaction() as conn:
            count = conn.execute("SELECT count(*) FROM saved_queries WHERE username = ? AND "
                                 "name != ?", [username, name]).fetchone()[0]
            if count >= MAX_PER_USER:
                raise TooManySavedQueries(f"at most {MAX_PER_USER} saved queries per user")
            conn.execute("INSERT INTO saved_queries (username, name, query, range, created_at) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (username, name) DO UPDATE SET "
                         "query = excluded.query, range = excluded.range, "
                         "created_at = excluded.created_at",
                         [username, name, query, range_, self._clock()])
            row = conn.execute("SELECT id, name, query, range, created_at FROM saved_queries "
                               "WHERE username = ? AND name = ?", [username, name]).fetchone()
        return SavedQuery(*row)

    def delete(self, username: str, query_id: int) -> bool:
        """Remove one of the user's own queries; False when they have none with that id."""
        return self._db.execute("DELETE FROM saved_queries WHERE id = ? AND username = ?",
                                [query_id, username]) > 0
