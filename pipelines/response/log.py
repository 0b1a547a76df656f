"""The action records: a SQLite file (``response.actions_db``) that both the console and the
sensors' policies write, newest first for the console.

An action's id is its primary key, so a policy that meets the same alert again (a capture
replayed twice, a batch delivered twice) records its action once.

>>> import tempfile
>>> log = ActionLog(f"{tempfile.mkdtemp()}/actions.db")
>>> log.add({"id": "x1", "at": "2026-01-01T00:00:00.000000Z", "kind": "block",
...          "alert_id": "a1", "status": "dry_run", "actor": "policy"})
True
>>> log.add({"id": "x1", "kind": "block"}), [r["id"] for r in log.list()]
(False, ['x1'])
>>> log.close()
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson

from pipelines.sqlitedb import open_shared

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY, added REAL NOT NULL, kind TEXT, alert_id TEXT, status TEXT,
    actor TEXT, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS actions_added ON actions (added);
CREATE INDEX IF NOT EXISTS actions_alert ON actions (alert_id);
"""

Record = dict[str, Any]


class ActionLog:
    def __init__(self, path: str | Path) -> None:
        self._db = open_shared(path, SCHEMA)
        self._lock = threading.Lock()

    def add(self, record: Record) -> bool:
        """Keep ``record``; False when an action of its id is already kept."""
        row = (record["id"], time.time(), record.get("kind"), record.get("alert_id"),
               record.get("status"), record.get("actor"), orjson.dumps(record).decode())
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO actions VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        return cursor.rowcount == 1

    def list(self, alert_id: str | None = None, limit: int = 100) -> list[Record]:
        """The latest actions (on ``alert_id`` only, when given), newest first."""
        where, params = ("WHERE alert_id = ?", [alert_id]) if alert_id else ("", [])
        with self._lock:
            rows = self._db.execute(f"SELECT record FROM actions {where} "
                                    "ORDER BY added DESC LIMIT ?", [*params, limit]).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
