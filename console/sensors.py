"""The sensors that ship to this console, as their heartbeats last described them.

Heartbeats are kept in the accounts file (table ``sensors``, one row per sensor name), so that
consoles sharing that file see the same sensors. A sensor is *stale* when its last heartbeat is
older than ``console.sensor_stale_s``.

>>> import tempfile
>>> from console.auth.db import AccountsDB
>>> sensors = SensorRegistry(AccountsDB(f"{tempfile.mkdtemp()}/console.db"), clock=lambda: 100.0)
>>> sensors.beat(Heartbeat("tap1", "0.1.0", packets=10, drops=0, events=3, lag_s=0.5,
...                        started="2026-01-01T00:00:00.000000Z"), token="tap1", source_ip="::1")
>>> [(s.name, s.events, s.is_stale(now=130.0, stale_s=60)) for s in sensors.list()]
[('tap1', 3, False)]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields

from console.auth.db import AccountsDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sensors (
    name TEXT PRIMARY KEY, version TEXT NOT NULL, packets INTEGER NOT NULL,
    drops INTEGER NOT NULL, events INTEGER NOT NULL, lag_s REAL NOT NULL, started TEXT NOT NULL,
    token TEXT NOT NULL, source_ip TEXT NOT NULL, last_seen REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a sensor says about itself: counters since it ``started`` (ISO 8601, UTC)."""

    name: str
    version: str
    packets: int
    drops: int
    events: int
    lag_s: float
    started: str


@dataclass(frozen=True, slots=True)
class SensorState(Heartbeat):
    token: str           # the name of the token it authenticated with
    source_ip: str
    last_seen: float     # epoch seconds of the last heartbeat

    def is_stale(self, now: float, stale_s: float) -> bool:
        return now - self.last_seen > stale_s


_COLUMNS = ", ".join(f.name for f in fields(SensorState))


class SensorRegistry:
    def __init__(self, db: AccountsDB, clock: Callable[[], float] = time.time) -> None:
        self._db, self.clock = db, clock
        self._db.execute(_SCHEMA)

    def beat(self, heartbeat: Heartbeat, token: str, source_ip: str) -> None:
        """Record a heartbeat; the sensor's row is replaced."""
        state = SensorState(*astuple(heartbeat), token=token, source_ip=source_ip,
                            last_seen=self.clock())
        marks = ", ".join("?" * len(fields(SensorState)))
        self._db.execute(f"INSERT OR REPLACE INTO sensors ({_COLUMNS}) VALUES ({marks})",
                         astuple(state))

    def list(self) -> list[SensorState]:
        rows = self._db.fetch(f"SELECT {_COLUMNS} FROM sensors ORDER BY name")
        return [SensorState(*row) for row in rows]

    def forget(self, name: str) -> bool:
        return self._db.execute("DELETE FROM sensors WHERE name = ?", [name]) > 0
