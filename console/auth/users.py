"""Local users: a name, a role and an argon2id password hash."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from console.auth.db import AccountsDB
from console.auth.roles import Role

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
USERNAME_RULE = "1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit"



class AccountConflict(ValueError):
    """The change would break the accounts: a taken name, or no admin left."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    created_at: float


def check_password_rules(password: str) -> None:
    """Raise ``ValueError`` saying why a new password is refused."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


class Users:
    """Users in the accounts file; ``hasher`` defaults to argon2id with the library's (RFC 9106)
    parameters."""

    def __init__(self, db: AccountsDB, hasher: PasswordHasher | None = None) -> None:
        self._db = db
        self._hasher = hasher or PasswordHasher()
        # Verified when the user does not exist, so a wrong name costs as long as a wrong password.
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def add(self, username: str, password: str, role: Role) -> User:
        if not USERNAME.match(username):
            raise ValueError(f"a username is {USERNAME_RULE}")
        check_password_rules(password)
        user = User(username, Role(role), time.time())
        password_hash = self._hasher.hash(password)
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
                raise AccountConflict(f"user {username!r} exists already")
            conn.execute("INSERT INTO users VALUES (?, ?, ?, ?)",
                         [username, user.role.value, password_hash, user.created_at])
        return user

    def get(self, username: str) -> User | None:
        rows = self._db.fetch("SELECT username, role, created_at FROM users WHERE username = ?",
                              [username])
        return User(rows[0][0], Role(rows[0][1]), rows[0][2]) if rows else None

    def list(self) -> list[User]:
        rows = self._db.fetch("SELECT username, role, created_at FROM users ORDER BY username")
        return [User(name, Role(role), created) for name, role, created in rows]

    def count(self) -> int:
        return int(self._db.fetch("SELECT count(*) FROM users")[0][0])

    def delete(self, username: str) -> bool:
        """Remove a user and their sessions; the last admin cannot be removed."""
        with self._db.transaction() as conn:
            row = conn.execute("SELECT role FROM users WHERE username = ?", [username]).fetchone()
            if row is None:
                return False
            admins = conn.execute("SELECT count(*) FROM users WHERE role = ?",
                                  [Role.admin.value]).fetchone()[0]
            if row[0] == Role.admin.value and admins == 1:
                raise AccountConflict("the last admin cannot be removed")
            conn.execute("DELETE FROM users WHERE username = ?", [username])
        return True

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, when the password is theirs; None otherwise."""
        rows = self._db.fetch("SELECT password_hash FROM users WHERE username = ?", [username])
        stored = rows[0][0] if rows else self._decoy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if not rows:
            return None
        if self._hasher.check_needs_rehash(stored):
            self._db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                             [self._hasher.hash(password), username])
        return self.get(username)
