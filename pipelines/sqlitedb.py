"""Small SQLite files that several threads and processes share (webhook ledger, action log)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_shared(path: str | Path, schema: str) -> sqlite3.Connection:
    """A connection in autocommit and WAL mode, usable from any thread (callers serialise
    their use with a lock), to a file created with ``schema`` if it is new."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    return db
