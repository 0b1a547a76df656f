"""Incidents in the SQLite store: their own table, beside ``events``.

One row per incident: the document as JSON, and the columns its searches filter and sort on
(time of the last alert, risk, severity, state, triage status). Every function works inside a
transaction its caller, :class:`~pipelines.store.sqlite.SQLiteStore`, holds, so reading the
stored triage and writing the new version happen at once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from liaowang.events import get_field, parse_timestamp
from pipelines.store.base import Event, QueryError, SearchResult, StoreError, merge_patch
from pipelines.store.incidents import (
    IncidentFilter,
    check_incident,
    check_update,
    decode_cursor,
    encode_cursor,
    keep_triage,
)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, ts INTEGER NOT NULL, "
    "risk REAL NOT NULL, severity INTEGER NOT NULL, state TEXT NOT NULL, status TEXT, "
    "doc TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS incidents_ts ON incidents (ts, id)",
    "CREATE INDEX IF NOT EXISTS incidents_risk ON incidents (risk, ts, id)",
)
_UPSERT = ("INSERT INTO incidents (id, ts, risk, severity, state, status, doc) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ts = excluded.ts, "
           "risk = excluded.risk, severity = excluded.severity, state = excluded.state, "
           "status = excluded.status, doc = excluded.doc")
_ORDER = {"last_seen": ("ts", "id"), "risk": ("risk", "ts", "id")}


def create_table(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        conn.execute(statement)


def write(conn: sqlite3.Connection, incidents: Sequence[Event]) -> int:
    for incident in incidents:
        stored = get(conn, check_incident(incident))
        conn.execute(_UPSERT, _row(keep_triage(incident, stored)))
    return len(incidents)


def get(conn: sqlite3.Connection, incident_id: str) -> Event | None:
    row = conn.execute("SELECT doc FROM incidents WHERE id = ?", [incident_id]).fetchone()
    return json.loads(row[0]) if row else None


def update(conn: sqlite3.Connection, incident_id: str, changes: dict[str, Any]) -> Event | None:
    stored = get(conn, incident_id)
    if stored is None:
        return None
    incident: Event = merge_patch(stored, changes)
    check_update(incident, incident_id)
    conn.execute(_UPSERT, _row(incident))
    return incident


def search(conn: sqlite3.Connection, filters: IncidentFilter, size: int,
           cursor: str | None) -> SearchResult:
    if size < 1:
        raise QueryError(f"size must be at least 1, not {size}")
    where, params = _where(filters)
    columns = _ORDER[filters.sort]
    count = conn.execute(f"SELECT count(*) FROM incidents WHERE {where}", params).fetchone()[0]
    page, page_params = where, list(params)
    if cursor:
        page += f" AND ({', '.join(columns)}) < ({', '.join('?' * len(columns))})"
        page_params += decode_cursor(cursor, len(columns))
    order = ", ".join(f"{column} DESC" for column in columns)
    rows = conn.execute(f"SELECT {', '.join(columns)}, doc FROM incidents WHERE {page} "
                        f"ORDER BY {order} LIMIT ?", [*page_params, size + 1]).fetchall()
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(rows[-1][:-1]) if more else None
    return SearchResult([json.loads(row[-1]) for row in rows], count, next_cursor)


def _where(filters: IncidentFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    if filters.status == "new":
        clauses.append("(status IS NULL OR status = 'new')")
    elif filters.status:
        clauses.append("status = ?")
        params.append(filters.status)
    if filters.state:
        clauses.append("state = ?")
        params.append(filters.state)
    if filters.min_severity:
        clauses.append("severity >= ?")
        params.append(filters.min_severity)
    when = filters.when
    for bound, operator in ((when and when.start, ">="), (when and when.end, "<")):
        if bound:
            clauses.append(f"ts {operator} ?")
            params.append(_time(bound))
    return " AND ".join(clauses), params


def _time(text: str) -> int:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise QueryError(f"'{text}' is not an ISO 8601 time") from exc


def _row(incident: Event) -> tuple[Any, ...]:
    incident_id = check_incident(incident)
    try:
        ts = parse_timestamp(incident["@timestamp"])
        doc = json.dumps(incident, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"incident {incident_id!r} cannot be stored: {exc}") from exc
    risk = get_field(incident, "event.risk_score")
    severity = get_field(incident, "event.severity")
    return (incident_id, ts, float(risk) if isinstance(risk, int | float) else 0.0,
            severity if isinstance(severity, int) else 1,
            get_field(incident, "incident.state") or "open",
            get_field(incident, "incident.status"), doc)
