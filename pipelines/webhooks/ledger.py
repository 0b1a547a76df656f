"""Per webhook target, what became of each message: a SQLite file beside its queue.

``delivered`` holds every alert id the target took (a 2xx), so that an alert is never sent to
it again, whichever way it comes back (a batch replayed from the queue after a crash, the same
capture replayed twice). ``messages`` lists the deliveries (for the console) and the dead
letters, which keep their alerts so that they can be replayed. Rows of delivered messages older
than ``RETENTION_S`` are pruned when the file is opened; dead letters stay until replayed.

>>> import tempfile
>>> from pipelines.webhooks.base import Message
>>> ledger = Ledger(f"{tempfile.mkdtemp()}/deliveries.db")
>>> message = Message(({"event": {"id": "a1"}},), queued_at=0.0)
>>> ledger.record(message, "dead", attempts=3, detail="HTTP 503")
>>> [letter.key for letter in ledger.messages("dead")]
['a1']
>>> [m.alerts[0]["event"]["id"] for m in ledger.take_dead()], ledger.messages("dead")
(['a1'], [])
>>> ledger.close()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from pipelines.sqlitedb import open_shared
from pipelines.webhooks.base import Event, Message

RETENTION_S = 30 * 86_400
Status = Literal["delivered", "dead", "replayed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    alert_id TEXT PRIMARY KEY, message TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, alert_ids TEXT NOT NULL, attempts INTEGER,
    queued_at REAL, at REAL NOT NULL, detail TEXT, alerts BLOB);
CREATE INDEX IF NOT EXISTS messages_at ON messages (at);
"""


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One row of the deliveries list: ``at`` is when it was delivered or given up."""

    key: str
    status: Status
    alert_ids: list[str]
    attempts: int
    queued_at: float
    at: float
    detail: str


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self._db = open_shared(path, SCHEMA)
        self._lock = threading.Lock()
        with self._lock:
            self._prune(time.time() - RETENTION_S)

    def undelivered(self, alerts: Iterable[Event]) -> list[Event]:
        """The alerts among ``alerts`` that the target has not taken yet."""
        alerts = list(alerts)
        ids = [str(alert.get("event", {}).get("id", "")) for alert in alerts]
        with self._lock:
            taken = {row[0] for row in self._db.execute(
                f"SELECT alert_id FROM delivered WHERE alert_id IN ({','.join('?' * len(ids))})",
                ids)} if ids else set()
        return [alert for alert, key in zip(alerts, ids, strict=True) if key not in taken]

    def record(self, message: Message, status: Status, attempts: int, detail: str) -> None:
        """What became of ``message``; a delivered one marks its alerts as taken."""
        now = time.time()
        alerts = orjson.dumps(list(message.alerts)) if status == "dead" else None
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (message.key, status, orjson.dumps(message.alert_ids).decode(), attempts,
                 message.queued_at, now, detail, alerts))
            if status == "delivered":
                self._db.executemany("INSERT OR IGNORE INTO delivered VALUES (?, ?, ?)",
                                     [(key, message.key, now) for key in message.alert_ids])

    def messages(self, status: Status | None = None, limit: int = 100) -> list[MessageRecord]:
        """The latest messages, newest first (only those of ``status`` when given)."""
        query = ("SELECT key, status, alert_ids, attempts, queued_at, at, detail FROM messages"
                 + (" WHERE status = ?" if status else "") + " ORDER BY at DESC LIMIT ?")
        with self._lock:
            rows = self._db.execute(query, (status, limit) if status else (limit,)).fetchall()
        return [MessageRecord(key, state, orjson.loads(ids), attempts, queued, at, detail or "")
                for key, state, ids, attempts, queued, at, detail in rows]

    def counts(self) -> dict[str, int]:
        """How many messages of each status the ledger holds (delivered ones for
        ``RETENTION_S``)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status")
            return {status: count for status, count in rows}

    def take_dead(self, keys: Sequence[str] | None = None) -> list[Message]:
        """The dead letters (those of ``keys``, or all), marked replayed: the caller queues
        their alerts again."""
        query = "SELECT key, alerts FROM messages WHERE status = 'dead'"
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            rows = [row for row in self._db.execute(query)
                    if keys is None or row[0] in set(keys)]
            self._db.executemany("UPDATE messages SET status = 'replayed', at = ? WHERE key = ?",
                                 [(time.time(), key) for key, _ in rows])
        return [Message(tuple(orjson.loads(alerts)), queued_at=time.time())
                for _, alerts in rows]

    def _prune(self, before: float) -> None:
        self._db.execute("DELETE FROM delivered WHERE at < ?", (before,))
        self._db.execute("DELETE FROM messages WHERE at < ? AND status != 'dead'", (before,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
