"""The SQLite store's write path: rows as the queries read them, checkpoints off the writer,
and alert indices that non-alert events do not enter."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from detection.incidents import DATASET, KIND
from pipelines.query import ip_key
from pipelines.store.base import StoreError
from pipelines.store.sqlite import _REQUIRED, LAYOUT, SQLiteStore, _where
from pipelines.store.sqlite_indexes import create, statements
from pipelines.store.sqlite_write import Checkpointer, RowBuilder
from tests.utils.events import corpus

ROWS = RowBuilder(LAYOUT, _REQUIRED)


def event(n: int = 1, kind: str = "event", **extra: object) -> dict:
    return {"@timestamp": "2015-10-22T10:00:00.000001Z",
            "event": {"id": f"e{n}", "kind": kind, "dataset": "modbus"},
            "observer": {"name": "tap1"}, "source": {"ip": "10.0.0.1"},
            "destination": {"ip": "2001:db8::2"},
            "network": {"community_id": "1:abc", "protocol": "modbus"},
            **extra}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "events.db") as opened:
        yield opened


# --- rows ------------------------------------------------------------------------------------

def test_a_row_holds_the_columns_in_compared_form_then_the_document() -> None:
    alert = event(kind="alert", rule={"id": "r1"})
    assert ROWS.row(alert) == [
        "e1", 1445508000000001, "alert", "modbus", "tap1", ip_key("10.0.0.1"),
        ip_key("2001:db8::2"), "1:abc", "r1", "modbus", orjson.dumps(alert).decode()]


def test_missing_optional_fields_are_null_and_flat_dotted_keys_are_read() -> None:
    flat = {"@timestamp": "2015-10-22T10:00:00Z", "event.id": "f1", "event.kind": "event",
            "event.dataset": "flow", "source": "not an object"}
    assert ROWS.row(flat)[:10] == ["f1", 1445508000000000, "event", "flow", *[None] * 6]


@pytest.mark.parametrize(("broken", "reason"), [
    ({"event": {"kind": "event"}}, "without event.id, @timestamp, event.dataset"),
    ({"@timestamp": 5, "event": {"id": "x", "kind": "event", "dataset": "flow"}},
     "without @timestamp"),
    ({"@timestamp": "yesterday", "event": {"id": "x", "kind": "event", "dataset": "flow"}},
     "'x' cannot be stored"),
    ({**event(), "blob": b"\x00"}, "'e1' cannot be stored"),
])
def test_an_event_that_cannot_be_stored_is_refused_with_the_reason(broken: dict,
                                                                   reason: str) -> None:
    with pytest.raises(StoreError, match=reason):
        ROWS.row(broken)


def test_a_batch_is_split_into_rows_their_events_and_incidents() -> None:
    incident = {"@timestamp": "2015-10-22T10:00:00Z",
                "event": {"id": "i1", "kind": KIND, "dataset": DATASET}}
    rows, events, incidents = ROWS.split([event(1), incident, event(2, kind="alert")])
    assert [row[0] for row in rows] == ["e1", "e2"]
    assert events == [event(1), event(2, kind="alert")]
    assert incidents == [incident]


def test_the_store_reads_back_what_the_rows_wrote(store: SQLiteStore) -> None:
    events = list(corpus().values())
    assert store.write(events) == len(events)
    for stored in events:
        assert store.get(stored["event"]["id"]) == stored


def test_a_store_of_version_1_gets_the_protocol_column_filled_on_open(tmp_path: Path) -> None:
    events = list(corpus().values())
    with SQLiteStore(tmp_path / "v1.db") as store:
        store.write(events)
        conn = store._connection()
        conn.execute("DROP INDEX events_protocol")
        conn.execute("ALTER TABLE events DROP COLUMN protocol")   # as version 1 made it
        conn.execute("PRAGMA user_version = 1")
    with SQLiteStore(tmp_path / "v1.db") as reopened:
        conn = reopened._connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        columns = dict(conn.execute("SELECT id, protocol FROM events"))
        assert columns == {e["event"]["id"]: e.get("network", {}).get("protocol") for e in events}
        index = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_protocol'")
        assert index.fetchone()[0].endswith("ON events (protocol, ts)")
        assert reopened.search("network.protocol:modbus").count == sum(
            e.get("network", {}).get("protocol") == "modbus" for e in events) > 0


def test_ids_stored_before_are_replaced_and_new_ones_added(store: SQLiteStore) -> None:
    store.write([event(1), event(2)])
    rewritten = event(2, rule={"id": "r9"})
    assert store.write([rewritten, event(3), event(3, kind="alert")]) == 3
    assert store.get("e2") == rewritten
    assert store.get("e3") == event(3, kind="alert")     # the last version in the batch
    assert store.search("rule.id:r9").count == 1
    assert store.search("").count == 3

# --- checkpoints -----------------------------------------------------------------------------

def wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (x TEXT)")
    return conn


def fill(conn: sqlite3.Connection, rows: int) -> None:
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * rows)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_past_the_limit_the_thread_copies_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "db"
    conn = wal_database(path)
    checkpointer = Checkpointer(lambda: sqlite3.connect(path), path, limit_bytes=100_000)
    fill(conn, 20)
    checkpointer.nudge(conn)   # below the limit: nothing happens
    assert path.stat().st_size < 20_000
    fill(conn, 200)
    checkpointer.nudge(conn)
    assert wait_for(lambda: path.stat().st_size > 200_000)
    checkpointer.close()
    conn.close()


def test_a_log_far_past_the_limit_is_checkpointed_by_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "db"
    conn = wal_database(path)
    checkpointer = Checkpointer(lambda: sqlite3.connect(path), path, limit_bytes=10_000)
    fill(conn, 200)
    checkpointer.nudge(conn)
    assert path.stat().st_size > 200_000   # at once, by the committing connection
    checkpointer.close()
    conn.close()


def test_the_store_keeps_its_log_bounded_and_stops_its_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "events.db")
    batch = [event(n, padding="x" * 4000) for n in range(2000)]   # 8 MB a batch
    for round_ in range(6):
        store.write([{**e, "event": {**e["event"], "id": f"{round_}-{n}"}}
                     for n, e in enumerate(batch)])
    wal = tmp_path / "events.db-wal"
    assert wal.stat().st_size < 80_000_000   # never past four times the 16 MB limit, plus a batch
    assert (tmp_path / "events.db").stat().st_size > 16_000_000   # checkpoints did run
    assert store.search("", size=1).count == 12_000
    assert any(t.name.startswith("checkpoint") for t in threading.enumerate())
    store.close()
    assert not any(t.name.startswith("checkpoint") for t in threading.enumerate())


# --- alert indices ---------------------------------------------------------------------------

def entries(conn: sqlite3.Connection, index: str) -> int:
    """How many entries a B-tree holds, read from its pages (the dbstat table)."""
    return conn.execute("SELECT sum(ncell) FROM dbstat WHERE name = ? AND pagetype = 'leaf'",
                        [index]).fetchone()[0]


def test_alert_indices_hold_the_alerts_only_and_serve_alert_queries(store: SQLiteStore) -> None:
    store.write([event(1), event(2), event(3, kind="alert", rule={"id": "r", "name": "n"})])
    conn = store._connection()
    alert_indices = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'events_alert%'")]
    assert len(alert_indices) == 6   # time, severity, status, rule, source, destination
    assert entries(conn, "events_ts") == 3
    assert all(entries(conn, name) == 1 for name in alert_indices)
    where = _where("event.kind:alert", None)
    plan = " ".join(row[-1] for row in conn.execute(
        f"EXPLAIN QUERY PLAN SELECT ts, id FROM events WHERE {where.text} "
        "ORDER BY ts DESC, id DESC LIMIT 10", where.params))
    assert "events_alert_time" in plan, plan


def test_an_older_store_gets_its_alert_indices_made_partial(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SQLiteStore(path) as store:
        store.write([event(1), event(2, kind="alert")])
    conn = sqlite3.connect(path)
    for statement in statements(LAYOUT):   # as a store of the previous version made them
        name = statement.split()[5]
        conn.execute(f"DROP INDEX {name}")
        conn.execute(statement.split(" WHERE ")[0])
    conn.execute("CREATE INDEX events_kind ON events (kind, ts)")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        sql = dict(store._connection().execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        assert "events_kind" not in sql   # every event entered it; alert_time serves alerts
        assert all(sql[s.split()[5]] == s.replace(" IF NOT EXISTS", "")
                   for s in statements(LAYOUT))
        assert store.search("event.kind:alert").count == 1
        assert store.search("event.kind:event").count == 1
    conn = sqlite3.connect(path)
    statements_run: list[str] = []
    conn.set_trace_callback(statements_run.append)
    create(conn, LAYOUT)   # as at the next open: the indices are current, none is made again
    conn.close()
    assert statements_run and not [s for s in statements_run if "DROP" in s]
