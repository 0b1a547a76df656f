"""Indices of the SQLite store for what the console asks most, beyond the columns' own.

Dashboards and the triage list group and filter alerts by fields that live in the JSON
document (severity, triage status, rule name, addresses) and every event by protocol. An index
on ``(kind, <field>)`` answers those from the index alone, over the alerts only, instead of
parsing every document. Each expression is the one :func:`pipelines.query.field_sql` writes for
the field, character for character, or SQLite would not use the index. They are created on
open (``CREATE INDEX IF NOT EXISTS``), so existing stores get them once.
"""

from __future__ import annotations

import sqlite3

from pipelines.query import SqlLayout, field_sql

ALERTS_ONLY = " WHERE kind = 'alert'"
"""The alert indices are partial: alerts are a few in a hundred events, and an index that only
they enter costs the other events' writes nothing (SQLite evaluates the JSON expressions of an
index only for the rows its ``WHERE`` admits). A query uses them when it asks for
``kind = 'alert'``, which every alert view does (a bound parameter counts)."""


def _expression(layout: SqlLayout, name: str) -> str:
    return field_sql(layout, name, raw=True)


def statements(layout: SqlLayout) -> list[str]:
    """The ``CREATE INDEX`` statements for a store of this layout.

    SQLite 3.40 reads an indexed expression's value from the index only when that index is the
    one chosen, so each index leads with the columns its queries constrain and carries the
    values they group or filter on after them."""
    sev, status, rule, source, destination, protocol = (_expression(layout, name) for name in (
        "event.severity", "alert.status", "rule.name", "source.ip", "destination.ip",
        "network.protocol"))
    columns = {
        "alert_time": "kind, ts, id",                         # newest alerts, a page at a time
        "alert_severity": f"kind, {sev}, {status}, ts",       # severity counts, min_severity
        "alert_status": f"kind, {status}, {sev}, ts",         # triage status filters
        "alert_rule": f"kind, {rule}, ts, id",                # top rules, one rule's alerts
        "alert_source": f"kind, {source}",                    # top sources of alerts
        "alert_destination": f"kind, {destination}",          # top destinations of alerts
        "protocol": f"{protocol}, ts",                        # the protocol mix
    }
    return [f"CREATE INDEX IF NOT EXISTS events_{name} ON events ({expressions})"
            + (ALERTS_ONLY if name.startswith("alert_") else "")
            for name, expressions in columns.items()]


def create(conn: sqlite3.Connection, layout: SqlLayout) -> None:
    """Create the indices that are missing, and make again those an older store defined
    otherwise (such as an alert index that still covered every event)."""
    stored = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    for statement in statements(layout):
        definition = statement.replace(" IF NOT EXISTS", "", 1)   # as sqlite_master keeps it
        name = definition.split()[2]
        if stored.get(name, definition) != definition:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(statement)
