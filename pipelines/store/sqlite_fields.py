"""Protocol fields analysts hunt by, kept beside the SQLite store's events in ``event_fields``.

A hunt like ``modbus.function_code:16`` names a field that lives only in the JSON document: over
all time, SQLite would parse every stored document to answer it. For the few fields hunted most
(the function or message code of each protocol, :data:`FIELDS`) the store keeps one row per event
and field: ``(field, value, ts, id)``, ordered so that one value's events are one range of the
table, with their time and id. Equality and ranges on those fields are then asked there, and only
the matching events are read (:func:`lookups`).

Values are the ones ``json_extract`` reads from the stored document (true is 1, containers are
JSON text), so a condition means the same on both tables. The rows are written with their events,
replaced with them, and dropped with them by retention.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipelines.query import Node, Range, Sql, SqlLayout, Term, between, to_sql
from pipelines.store.sqlite_counts import document_value

FIELDS = (
    "modbus.function_code", "dnp3.function_code", "s7comm.function", "iec104.type_id",
    "enip.command", "cip.service", "opcua.service", "bacnet.service", "gtp.message_type",
    "gtpv2.message_type", "pfcp.message_type", "ngap.procedure_code", "nas5gs.message_type",
    "diameter.command_code", "sbi.service", "http.response.status_code",
)
"""The fields kept: what rules and analysts filter protocol events by. A field is stored as its
place in this tuple (a small integer keeps the rows short): add new ones at the end."""

_BY_NAMESPACE: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
for _name in FIELDS:
    _namespace, *_rest = _name.split(".")
    _BY_NAMESPACE.setdefault(_namespace, []).append((FIELDS.index(_name), tuple(_rest)))
_NAMESPACES = frozenset(_BY_NAMESPACE)

_SCHEMA = """
CREATE TABLE event_fields (
    field INTEGER NOT NULL, value NOT NULL, ts INTEGER NOT NULL, id TEXT NOT NULL,
    kind TEXT NOT NULL, PRIMARY KEY (field, value, ts, id)
) WITHOUT ROWID
"""
_INSERT = "INSERT OR REPLACE INTO event_fields VALUES (?, ?, ?, ?, ?)"
_DELETE = "DELETE FROM event_fields WHERE field = ? AND value = ? AND ts = ? AND id = ?"

FEW = 5000
"""Up to this many matches, a condition lists its events; past it, it checks each event."""

Row = tuple[int, Any, int, str, str]
"""(field's place in FIELDS, value, ts, id, kind)."""


def create(conn: sqlite3.Connection, stored: Callable[[], Iterable[tuple[Any, ...]]]) -> None:
    """Create the table, with the rows of the events already stored (``stored`` yields their
    ``(ts, id, kind, document)``), for a store made before it existed."""
    existing = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'event_fields'").fetchone()
    if existing and existing[0] == _SCHEMA.strip():
        return
    if existing:   # made by an earlier layout of the table: made again
        conn.execute("DROP TABLE event_fields")
    conn.execute(_SCHEMA)
    conn.executemany(_INSERT, (row for ts, event_id, kind, event in stored()
                               for row in rows(ts, event_id, kind, event)))


def rows(ts: int, event_id: str, kind: str, event: dict[str, Any]) -> list[Row]:
    """The kept fields of one event that have a value."""
    found: list[Row] = []
    for namespace in _NAMESPACES.intersection(event):
        for code, path in _BY_NAMESPACE[namespace]:
            value = document_value(event[namespace], path)
            if value is not None:
                found.append((code, value, ts, event_id, kind))
    return found


def change(conn: sqlite3.Connection, added: Iterable[Row], removed: Iterable[Row]) -> None:
    """Take away the rows of replaced events, then add those of the events written."""
    conn.executemany(_DELETE, [row[:4] for row in removed])
    conn.executemany(_INSERT, added)


def drop_before(conn: sqlite3.Connection, cutoff_us: int) -> None:
    """Forget the rows of the events (not alerts) before ``cutoff_us``, as retention does."""
    conn.execute("DELETE FROM event_fields WHERE kind = 'event' AND ts < ?", [cutoff_us])


def lookups(conn: sqlite3.Connection, start_us: int | None, end_us: int | None
            ) -> Mapping[str, Callable[[Sql], Sql]]:
    """For :class:`pipelines.query.SqlLayout`: a condition on a kept field becomes a condition
    on the kept rows of the event. The search's own time range is asked there too: rows outside
    it are left out by the search anyway.

    A value with few events (up to :data:`FEW`) is looked up as the list of their (time, id);
    a common one is checked event by event as the search walks back in time, so the newest
    page is found after a few hundred events instead of after listing them all."""
    bounds = between("ts", start_us, end_us)

    def lookup(name: str) -> Callable[[Sql], Sql]:
        def condition(on_value: Sql) -> Sql:
            where = Sql(f"field = ? AND ({on_value.text}) AND {bounds.text}",
                        [FIELDS.index(name), *on_value.params, *bounds.params])
            if _matches(conn, where) <= FEW:
                return Sql(f"(ts, id) IN (SELECT ts, id FROM event_fields WHERE {where.text})",
                           where.params)
            return Sql("EXISTS (SELECT 1 FROM event_fields AS kept WHERE "
                       f"{where.text} AND kept.ts = events.ts AND kept.id = events.id)",
                       where.params)
        return condition

    return {name: lookup(name) for name in FIELDS}


def count_sql(node: Node | None, start_us: int | None, end_us: int | None) -> Sql | None:
    """The number of events matching a query that is one condition on a kept field (the usual
    hunt), read from the kept rows alone; None for any other query."""
    if not isinstance(node, Term | Range) or node.field not in FIELDS:
        return None
    if isinstance(node, Range) and node.low is None and node.high is None:
        return None   # an existence check: not asked in the kept rows (see lookups)
    code, bounds = FIELDS.index(node.field), between("ts", start_us, end_us)

    def count(on_value: Sql) -> Sql:
        return Sql(f"SELECT count(*) FROM event_fields WHERE field = ? AND ({on_value.text}) "
                   f"AND {bounds.text}", [code, *on_value.params, *bounds.params])

    return to_sql(node, SqlLayout({}, lookups={node.field: count}))


def _matches(conn: sqlite3.Connection, where: Sql) -> int:
    """How many kept rows match, counted no further than one past :data:`FEW`."""
    return int(conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM event_fields WHERE "
                            f"{where.text} LIMIT ?)", [*where.params, FEW + 1]).fetchone()[0])
