"""The SQLite store's query indices are the ones its queries use: each index expression must be
the text :func:`pipelines.query.field_sql` writes, or SQLite silently scans every document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.query import field_sql
from pipelines.store.sqlite import LAYOUT, SQLiteStore, _where

ALERTS = "event.kind:alert"


def plan(store: SQLiteStore, sql: str, params: list) -> str:
    rows = store._connection().execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(row[-1] for row in rows)


def terms_sql(field: str, query: str) -> tuple[str, list]:
    """The statement ``SQLiteStore.terms`` runs."""
    column = field_sql(LAYOUT, field, raw=True)
    where = _where(query, None)
    return (f"SELECT {column} AS term, count(*) AS n FROM events WHERE {where.text} "
            f"AND ({column} IS NOT NULL) GROUP BY term ORDER BY n DESC, term LIMIT 10",
            where.params)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "events.db") as opened:
        yield opened


@pytest.mark.parametrize(("field", "query", "index"), [
    ("event.severity", ALERTS, "events_alert_severity"),
    ("event.severity", f"{ALERTS} AND NOT alert.status:closed*", "events_alert_severity"),
    ("rule.name", ALERTS, "events_alert_rule"),
    ("source.ip", ALERTS, "events_alert_source"),
    ("destination.ip", ALERTS, "events_alert_destination"),
    ("network.protocol", "", "events_protocol"),
])
def test_dashboard_aggregations_read_an_index(store: SQLiteStore, field: str, query: str,
                                              index: str) -> None:
    assert f"INDEX {index}" in plan(store, *terms_sql(field, query))


@pytest.mark.parametrize(("query", "index"), [
    (ALERTS, "events_alert_time"),
    ("source.ip:10.0.0.1", "events_source_ip_ts"),
    ("destination.ip:10.0.0.1", "events_destination_ip_ts"),
    (f"{ALERTS} AND event.severity:>=3", "events_alert_severity"),
    (f'{ALERTS} AND rule.name:"Modbus write"', "events_alert_rule"),
])
def test_searches_find_their_rows_through_an_index(store: SQLiteStore, query: str,
                                                   index: str) -> None:
    where = _where(query, None)
    sql = f"SELECT ts, id FROM events WHERE {where.text} ORDER BY ts DESC, id DESC LIMIT 101"
    assert f"INDEX {index}" in plan(store, sql, where.params)
