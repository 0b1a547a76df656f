"""Login sessions, kept on the server: the cookie carries a random id, the file only its hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from console.auth.db import AccountsDB
from console.auth.roles import Role


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    username: str
    role: Role
    csrf_token: str
    expires_at: float


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(self, db: AccountsDB, ttl_s: float, clock: Callable[[], float] = time.time
                 ) -> None:
        self._db, self.ttl_s, self._clock = db, ttl_s, clock

    def create(self, username: str, role: Role) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), username, role, secrets.token_urlsafe(32),
                          now + self.ttl_s)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                         [digest(session.id), username, session.csrf_token, now,
                          session.expires_at])
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None (unknown, expired, or its user is gone)."""
        rows = self._db.fetch(
            "SELECT s.username, u.role, s.csrf_token, s.expires_at FROM sessions s "
            "JOIN users u USING (username) WHERE s.id_hash = ? AND s.expires_at > ?",
            [digest(session_id), self._clock()])
        if not rows:
            return None
        username, role, csrf_token, expires_at = rows[0]
        return Session(session_id, username, Role(role), csrf_token, expires_at)

    def delete(self, session_id: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE id_hash = ?", [digest(session_id)])
