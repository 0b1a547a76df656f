"""API tokens for automation and sensors: random, shown once, kept as a SHA-256 hash."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from console.auth.db import AccountsDB
from console.auth.roles import Role
from console.auth.sessions import digest

PREFIX = "lw_"
NAME_MAX = 100
# Writing the last use on every request would make each API call a write; once a minute is enough.
_LAST_USED_GRANULARITY_S = 60.0


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    name: str
    role: Role
    created_by: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None


_COLUMNS = "id, name, role, created_by, created_at, expires_at, last_used_at"


def _token(row: tuple) -> Token:
    token_id, name, role, created_by, created_at, expires_at, last_used_at = row
    return Token(token_id, name, Role(role), created_by, created_at, expires_at, last_used_at)


class Tokens:
    def __init__(self, db: AccountsDB, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock

    def create(self, name: str, role: Role, created_by: str,
               expires_days: float | None = None) -> tuple[Token, str]:
        """A new token and its secret, which is not kept and cannot be shown again."""
        if not name.strip() or len(name) > NAME_MAX:
            raise ValueError(f"a token name is 1-{NAME_MAX} characters")
        if expires_days is not None and expires_days <= 0:
            raise ValueError("expiry must be a positive number of days")
        now = self._clock()
        expires_at = now + expires_days * 86400 if expires_days is not None else None
        token = Token(secrets.token_hex(8), name, Role(role), created_by, now, expires_at, None)
        secret = PREFIX + secrets.token_urlsafe(32)
        self._db.execute(f"INSERT INTO tokens ({_COLUMNS}, secret_hash) VALUES (?,?,?,?,?,?,?,?)",
                         [token.id, name, token.role.value, created_by, now, expires_at, None,
                          digest(secret)])
        return token, secret

    def authenticate(self, secret: str) -> Token | None:
        """The live token with this secret, or None (unknown or expired)."""
        now = self._clock()
        rows = self._db.fetch(f"SELECT {_COLUMNS} FROM tokens WHERE secret_hash = ? "
                              "AND (expires_at IS NULL OR expires_at > ?)", [digest(secret), now])
        if not rows:
            return None
        token = _token(rows[0])
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY_S:
            self._db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", [now, token.id])
        return token

    def is_live(self, token_id: str) -> bool:
        """Whether the token exists and has not expired."""
        return bool(self._db.fetch("SELECT 1 FROM tokens WHERE id = ? AND "
                                   "(expires_at IS NULL OR expires_at > ?)",
                                   [token_id, self._clock()]))

    def list(self) -> list[Token]:
        rows = self._db.fetch(f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, id")
        return [_token(row) for row in rows]

    def delete(self, token_id: str) -> bool:
        return self._db.execute("DELETE FROM tokens WHERE id = ?", [token_id]) > 0
