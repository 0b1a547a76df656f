"""The audit log: who did what, to what, when and from where. Entries are only ever added."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from console.auth.db import AccountsDB

DETAIL_MAX = 2000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    username: str
    action: str
    target: str
    source_ip: str
    detail: str


class AuditLog:
    def __init__(self, db: AccountsDB, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock

    def record(self, username: str, action: str, target: str = "", source_ip: str = "",
               detail: str = "") -> None:
        self._db.execute("INSERT INTO audit (at, username, action, target, source_ip, detail) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         [self._clock(), username, action, target, source_ip,
                          detail[:DETAIL_MAX]])

    def recent(self, size: int = 100, offset: int = 0) -> list[AuditEntry]:
        """The latest ``size`` entries after the ``offset`` newest ones, newest first."""
        rows = self._db.fetch("SELECT at, username, action, target, source_ip, detail FROM audit "
                              "ORDER BY seq DESC LIMIT ? OFFSET ?", [size, offset])
        return [AuditEntry(*row) for row in rows]
