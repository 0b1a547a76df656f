"""Event counts of the SQLite store, kept as events are written: per hour, kind, dataset,
protocol and severity.

Counting half a million matches, or grouping a million events by protocol, reads that many index
entries (or documents) on every call; the dashboard and a hunt's ``count`` ask for it all the
time. The table ``event_counts`` holds one row per (hour, kind, dataset, protocol, severity) with
its number of events, so such a question reads a few thousand rows instead. It is kept exact:

- a write adds one upsert per group of the batch (the groups are counted in Python), and takes
  away the groups of events it replaces (an id written again);
- a triage update moves its alert from the old group to the new one;
- retention (``drop_before``) deletes the whole hours it empties (its cut is a day, so an
  hour is either all gone or all kept).

A query is answered here when every field it names is a counted key: the whole hours inside its
time range come from the table, the parts of an hour at either edge from the events themselves.
The values are the ones ``json_extract`` reads from the stored document, so the predicate of the
query (:func:`pipelines.query.to_sql` over :data:`LAYOUT`) means the same on both tables.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from pipelines.query import (
    And,
    Cidr,
    Exists,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    Sql,
    SqlLayout,
    Term,
    Text,
    Wildcard,
    between,
    field_sql,
    joined,
    to_sql,
)

HOUR_US = 3_600_000_000
LAYOUT = SqlLayout({"event.kind": "kind", "event.dataset": "dataset",
                    "network.protocol": "protocol", "event.severity": "severity"})
"""The counted fields, as columns of ``event_counts``."""

_SCHEMA = """
CREATE TABLE event_counts (
    key TEXT PRIMARY KEY, hour INTEGER NOT NULL, kind TEXT NOT NULL, dataset TEXT NOT NULL,
    protocol, severity, n INTEGER NOT NULL
);
CREATE INDEX event_counts_hour ON event_counts (hour)
"""
_UPSERT = ("INSERT INTO event_counts (key, hour, kind, dataset, protocol, severity, n) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET n = n + excluded.n")
_STORED = (f"SELECT ts - ((ts % {HOUR_US}) + {HOUR_US}) % {HOUR_US}, kind, dataset, "
           f"{field_sql(SqlLayout({}), 'network.protocol', raw=True)}, "
           f"{field_sql(SqlLayout({}), 'event.severity', raw=True)} FROM events")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

Key = tuple[int, str, str, Any, Any]
"""(hour, kind, dataset, protocol, severity) of one event."""


# --- keeping the counts -----------------------------------------------------------------------

def create(conn: sqlite3.Connection) -> None:
    """Create the table, counting the events already stored (a store made before it existed)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'event_counts'").fetchone()
    if exists:
        return
    for statement in _SCHEMA.split(";"):
        conn.execute(statement)
    rows = conn.execute(f"SELECT *, count(*) FROM ({_STORED}) GROUP BY 1, 2, 3, 4, 5")
    add(conn, Counter({tuple(row[:5]): row[5] for row in rows}))


def key(ts: int, kind: str, dataset: str, event: dict[str, Any]) -> Key:
    """The group of an event, from its column values and its document (on every write: the
    two lookups are written out)."""
    network, meta = event.get("network"), event.get("event")
    protocol = network.get("protocol") if type(network) is dict else None
    severity = meta.get("severity") if type(meta) is dict else None
    return ts - ts % HOUR_US, kind, dataset, sql_value(protocol), sql_value(severity)


def add(conn: sqlite3.Connection, counts: Counter[Key]) -> None:
    """Add ``counts`` (negative to take away) to the table, one upsert per group."""
    conn.executemany(_UPSERT, [(orjson.dumps(k).decode(), *k, n) for k, n in counts.items() if n])


def change(conn: sqlite3.Connection, added: Sequence[Key], removed: Sequence[Key]) -> None:
    counts = Counter(added)
    counts.subtract(removed)
    add(conn, counts)


def drop_before(conn: sqlite3.Connection, cutoff_us: int) -> None:
    """Forget the events (not alerts) of the hours before ``cutoff_us``, a day's start."""
    conn.execute("DELETE FROM event_counts WHERE kind = 'event' AND hour < ?", [cutoff_us])


def document_value(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    """What ``json_extract`` reads at ``path`` from the stored document of ``event``."""
    value: Any = event
    for part in path:
        if type(value) is not dict:
            return None
        value = value.get(part)
    return sql_value(value)


def sql_value(value: Any) -> Any:
    """What ``json_extract`` gives for a JSON value: true is 1, containers are JSON text, null
    is None."""
    kind = type(value)
    if kind is str or value is None or kind is float:
        return value
    if kind is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else float(value)
    if kind is bool:
        return int(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


# --- answering from the counts ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Split:
    """A time range cut into whole hours (read from the table) and edges (read from events)."""

    hours: Sql
    edges: list[tuple[int, int]]


def split(start_us: int | None, end_us: int | None) -> Split | None:
    """The whole hours of ``[start, end)`` and the rest; None when no whole hour is inside."""
    first = None if start_us is None else -(-start_us // HOUR_US) * HOUR_US
    last = None if end_us is None else end_us // HOUR_US * HOUR_US
    if first is not None and last is not None and first >= last:
        return None
    hours = between("hour", first, last)
    edges = [(low, high) for low, high in ((start_us, first), (last, end_us))
             if low is not None and high is not None and low < high]
    return Split(hours, edges)


def answers(node: Node | None, field: str | None = None) -> bool:
    """Whether the counts can answer a query (and a grouping by ``field``)."""
    fields = _fields(node)
    if field is not None:
        fields.add(field)
    return None not in fields and fields <= LAYOUT.columns.keys()


def count_sql(node: Node | None, when: Split, events_where: Sql) -> Sql:
    """The number of events matching ``node``: whole hours from the table plus each edge counted
    over ``events_where`` (the same query translated for the events table)."""
    where = joined("AND", [to_sql(node, LAYOUT), when.hours])
    parts = [Sql(f"SELECT coalesce(sum(n), 0) FROM event_counts WHERE {where.text}",
                 where.params)]
    parts += [Sql(f"SELECT count(*) FROM events WHERE {edge.text}", edge.params)
              for edge in _edges(events_where, when)]
    return joined("+", parts)


def terms_sql(field: str, node: Node | None, when: Split, events_column: str,
              events_where: Sql) -> Sql:
    """``(term, n)`` groups of ``field`` over the matching events, merged from both tables,
    most frequent first (ties by value, as SQLite orders them); a ``LIMIT ?`` is left to add."""
    column = field_sql(LAYOUT, field, raw=True)
    where = joined("AND", [to_sql(node, LAYOUT), when.hours, Sql(f"{column} IS NOT NULL", [])])
    parts = [Sql(f"SELECT {column} AS term, n FROM event_counts WHERE {where.text}",
                 where.params)]
    parts += [Sql(f"SELECT {events_column} AS term, count(*) AS n FROM events "
                  f"WHERE {edge.text} AND {events_column} IS NOT NULL GROUP BY term", edge.params)
              for edge in _edges(events_where, when)]
    union = " UNION ALL ".join(p.text for p in parts)
    return Sql(f"SELECT term, sum(n) AS total FROM ({union}) GROUP BY term "
               "HAVING total > 0 ORDER BY total DESC, term LIMIT ?",
               [v for p in parts for v in p.params])


def _edges(events_where: Sql, when: Split) -> list[Sql]:
    return [joined("AND", [events_where, between("ts", low, high)])
            for low, high in when.edges]


def _fields(node: Node | None) -> set[str | None]:
    """The fields a query names; None stands for a search of any field (free text)."""
    if node is None or isinstance(node, MatchAll):
        return set()
    if isinstance(node, And | Or):
        return set().union(*map(_fields, node.items))
    if isinstance(node, Not):
        return _fields(node.item)
    if isinstance(node, Text):
        return {None}
    assert isinstance(node, Term | Range | Wildcard | Exists | Cidr)
    return {node.field}
