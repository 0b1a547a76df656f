"""Failed logins per username and source address, in the accounts file so that every console
process sharing it counts the same failures."""

from __future__ import annotations

import time
from collections.abc import Callable

from console.auth.db import AccountsDB


class LoginRateLimit:
    """``max_failures`` within ``window_s`` lock a username+source pair out until the oldest of
    them leaves the window."""

    def __init__(self, db: AccountsDB, max_failures: int, window_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._db, self.max_failures, self.window_s, self._clock = (
            db, max_failures, window_s, clock)

    def retry_after(self, username: str, source: str) -> float:
        """Seconds until this pair may try again; 0 when it may now."""
        since = self._clock() - self.window_s
        rows = self._db.fetch("SELECT at FROM login_failures WHERE key = ? AND at > ? "
                              "ORDER BY at DESC LIMIT ?",
                              [_key(username, source), since, self.max_failures])
        if len(rows) < self.max_failures:
            return 0.0
        return max(rows[-1][0] - since, 0.0)

    def failed(self, username: str, source: str) -> None:
        now = self._clock()
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE at <= ?", [now - self.window_s])
            conn.execute("INSERT INTO login_failures VALUES (?, ?)", [_key(username, source), now])

    def succeeded(self, username: str, source: str) -> None:
        self._db.execute("DELETE FROM login_failures WHERE key = ?", [_key(username, source)])


def _key(username: str, source: str) -> str:
    return f"{username}\n{source}"
