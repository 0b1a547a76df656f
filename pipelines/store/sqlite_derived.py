"""The tables the SQLite store derives from its events, kept in step with them in one place.

:mod:`~pipelines.store.sqlite_counts` (counts per hour and key) and
:mod:`~pipelines.store.sqlite_fields` (hunted protocol fields) change with every write, triage
update and retention run, inside the same transaction as the events, so they are never out of
step. Both are derived in Python from each event written and from the document of each event it
replaces (an id written again): one lookup by id per event, and one statement per table per batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from pipelines.store import sqlite_counts, sqlite_fields

Stored = tuple[int, str, str, str, dict[str, Any]]
"""(ts, id, kind, dataset, document) of one event."""


def create(conn: sqlite3.Connection) -> None:
    """Create the tables; a store made before them gets them filled from its events."""
    sqlite_counts.create(conn)
    sqlite_fields.create(conn, lambda: ((ts, event_id, kind, event) for ts, event_id, kind, _,
                                        event in _documents(conn, "SELECT {} FROM events", [])))


def replaced(conn: sqlite3.Connection, ids: Sequence[str],
             stored_up_to: int | None = None) -> list[Stored]:
    """The stored events a write of these ids replaces, read before the write replaces them;
    with ``stored_up_to``, only rows up to that rowid (those stored before the write began)."""
    sql = "SELECT {} FROM events WHERE id IN (SELECT value FROM json_each(?))"
    params: list[Any] = [orjson.dumps(ids).decode()]
    if stored_up_to is not None:
        sql += " AND rowid <= ?"
        params.append(stored_up_to)
    return list(_documents(conn, sql, params))


def keep(conn: sqlite3.Connection, written: Sequence[Stored], old: Sequence[Stored]) -> None:
    """Count the events written (one version of each id) and index their fields, taking away
    those they replaced."""
    sqlite_counts.change(conn, [_key(item) for item in written], [_key(item) for item in old])
    sqlite_fields.change(conn, _field_rows(written), _field_rows(old))


def drop_before(conn: sqlite3.Connection, cutoff_us: int) -> None:
    sqlite_counts.drop_before(conn, cutoff_us)
    sqlite_fields.drop_before(conn, cutoff_us)


def _field_rows(items: Sequence[Stored]) -> list[sqlite_fields.Row]:
    return [row for ts, event_id, kind, _, event in items
            for row in sqlite_fields.rows(ts, event_id, kind, event)]


def _key(item: Stored) -> sqlite_counts.Key:
    ts, _, kind, dataset, event = item
    return sqlite_counts.key(ts, kind, dataset, event)


def _documents(conn: sqlite3.Connection, sql: str, params: list[Any]) -> Iterator[Stored]:
    for ts, event_id, kind, dataset, doc in conn.execute(
            sql.format("ts, id, kind, dataset, doc"), params):
        yield ts, event_id, kind, dataset, orjson.loads(doc)
