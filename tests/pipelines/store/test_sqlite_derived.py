"""The tables the SQLite store derives from its events say exactly what the events say: the kept
counts (``sqlite_counts``) what counting them says, the hunted fields (``sqlite_fields``) what
reading every document says. On real replayed events and alerts, through rewrites, triage and
retention."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from detection.sigma import SigmaDetector
from liaowang.events import iso_timestamp
from pipelines.query import Sql, field_sql, joined, parse_query, to_sql
from pipelines.store import sqlite_counts, sqlite_derived, sqlite_fields
from pipelines.store.base import Event, TimeRange
from pipelines.store.sqlite import LAYOUT, SQLiteStore, _time, _where
from tests.utils.pcaps import PCAPS, run_sensor

CAPTURES = (
    "zeek__zeek/testing__btest__Traces__dnp3__dnp3.pcap",
    "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap",
    "zeek__zeek/testing__btest__Traces__modbus__fuzz-72.pcap",
    "zeek__zeek/testing__btest__Traces__communityid__sctp.pcap",
)
START_US = 1_700_000_000_000_000 + 1_234_567_890   # not on an hour
SPAN_US = 3 * 86_400_000_000
QUERIES = ("", "event.kind:event", "event.kind:alert", "event.dataset:dnp3",
           "event.dataset:(modbus OR dnp3) AND NOT event.kind:alert", "event.severity:>=2",
           "network.protocol:* AND NOT network.protocol:dnp3", "event.dataset:weird")
RANGES = (TimeRange(), TimeRange(iso_timestamp(START_US + 7_000_000_000)),
          TimeRange(None, iso_timestamp(START_US + 86_400_000_000 + 1)),
          TimeRange("2023-11-15T00:00:00Z", "2023-11-16T00:00:00Z"),
          TimeRange(iso_timestamp(START_US + 100_000_000), iso_timestamp(START_US + 900_000_000)))
FIELDS = ("network.protocol", "event.dataset", "event.severity", "event.kind")
HUNTS = ("dnp3.function_code:129", "modbus.function_code:[1 TO 4]", "dnp3.function_code:>=1",
         "event.kind:alert AND dnp3.function_code:1", "NOT dnp3.function_code:129",
         "modbus.function_code:3 OR dnp3.function_code:(1 OR 2)", "sbi.service:nudm-sdm")


@pytest.fixture(scope="module")
def replayed() -> list[Event]:
    """Events of real captures and the alerts the shipped rules raise on them, spread over three
    days at uneven times (so hours are partly filled at the edges of a range)."""
    events: list[Event] = []
    for name in CAPTURES:
        events += run_sensor(PCAPS / name, strict=False)
    events += SigmaDetector.load().process(events)
    assert len(events) > 100 and any(e["event"]["kind"] == "alert" for e in events)
    step = SPAN_US // len(events)
    for n, event in enumerate(events):
        event["@timestamp"] = iso_timestamp(START_US + n * step + n % 7)
    return events


@pytest.fixture
def store(tmp_path: Path, replayed: list[Event]) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "events.db") as opened:
        for start in range(0, len(replayed), 97):
            opened.write(replayed[start:start + 97])
        yield opened


def recount(store: SQLiteStore, query: str, when: TimeRange) -> int:
    where = _where(query, when)
    return store._fetch(f"SELECT count(*) FROM events WHERE {where.text}", where.params)[0][0]


def read_every_document(store: SQLiteStore, query: str, when: TimeRange) -> list[str]:
    """Ids of the matches, newest first, with every field read from the document."""
    parts = [to_sql(parse_query(query), LAYOUT)]
    parts += [Sql(text, [_time(value)]) for text, value in (("ts >= ?", when.start),
                                                             ("ts < ?", when.end)) if value]
    where = joined("AND", parts)
    return [row[0] for row in store._fetch(f"SELECT id FROM events WHERE {where.text} "
                                           "ORDER BY ts DESC, id DESC", where.params)]


def recount_terms(store: SQLiteStore, field: str, query: str, when: TimeRange) -> list[Any]:
    column = field_sql(LAYOUT, field, raw=True)
    where = _where(query, when)
    rows = store._fetch(f"SELECT {column} AS term, count(*) AS n FROM events WHERE {where.text} "
                        f"AND {column} IS NOT NULL GROUP BY term ORDER BY n DESC, term LIMIT 5",
                        where.params)
    return [tuple(row) for row in rows]


def kept(store: SQLiteStore) -> dict[str, int]:
    return dict(store._fetch("SELECT key, n FROM event_counts WHERE n != 0", []))


def kept_fields(store: SQLiteStore) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in store._fetch("SELECT * FROM event_fields", [])]


def assert_counts_exact(store: SQLiteStore) -> None:
    """The kept tables equal ones made again from the events, and so do the answers."""
    conn: sqlite3.Connection = store._connection()
    before, fields_before = kept(store), kept_fields(store)
    conn.execute("DROP TABLE event_counts")
    conn.execute("DROP TABLE event_fields")
    sqlite_derived.create(conn)
    assert kept(store) == before
    assert kept_fields(store) == fields_before
    for query in HUNTS:
        for when in RANGES:
            found = store.search(query, when, size=1000)
            assert [e["event"]["id"] for e in found.data] == \
                read_every_document(store, query, when), (query, when)
            assert found.count == len(found.data)
    for query in QUERIES:
        for when in RANGES:
            assert store.search(query, when, size=1).count == recount(store, query, when), \
                (query, when)
    for field in FIELDS:
        for query in ("", "event.kind:alert", "event.dataset:dnp3"):
            for when in RANGES:
                got = [(b.key, b.count) for b in store.terms(field, query, when, size=5)]
                assert got == recount_terms(store, field, query, when), (field, query, when)


def test_the_counts_answer_what_the_events_say(store: SQLiteStore) -> None:
    assert sum(kept(store).values()) == recount(store, "", TimeRange()) > 100
    assert len(kept_fields(store)) > 50
    assert store.search("dnp3.function_code:129", size=1).count > 0
    assert_counts_exact(store)


def test_common_values_are_checked_event_by_event(store: SQLiteStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``FEW`` matches a kept field is checked per event (EXISTS), not listed (IN)."""
    where = _where("dnp3.function_code:129", None, store._connection())
    assert "(ts, id) IN" in where.text
    monkeypatch.setattr(sqlite_fields, "FEW", 2)
    where = _where("dnp3.function_code:129", None, store._connection())
    assert "EXISTS" in where.text
    assert_counts_exact(store)


def test_rewritten_events_move_between_groups(store: SQLiteStore, replayed: list[Event]) -> None:
    changed = copy.deepcopy(replayed[:150])
    for event in changed:
        event["event"]["dataset"] = "weird"
        event.setdefault("network", {})["protocol"] = "retried"
        if "dnp3" in event:
            event["dnp3"]["function_code"] = 1
    store.write(changed + changed[:10])     # again, and ten ids twice in one batch
    assert store.search("network.protocol:retried", size=1).count == 150
    assert_counts_exact(store)


def test_triage_moves_an_alert_between_severities(store: SQLiteStore) -> None:
    alerts = store.search("event.kind:alert", size=20).data
    for n, alert in enumerate(alerts):
        severity = 1 + (alert["event"].get("severity", 1) + n) % 4
        store.update_alert(alert["event"]["id"], {"event": {"severity": severity},
                                                  "alert": {"status": "acknowledged"}})
    assert_counts_exact(store)


def test_retention_takes_the_dropped_hours_away(store: SQLiteStore) -> None:
    dropped = store.drop_before("2023-11-16")
    assert dropped > 0
    assert store.search("event.kind:alert", size=1).count > 0
    assert_counts_exact(store)


def test_a_store_made_before_the_counts_gets_them_on_open(tmp_path: Path,
                                                         replayed: list[Event]) -> None:
    with SQLiteStore(tmp_path / "old.db") as store:
        store.write(replayed)
        fields = kept_fields(store)
        store._connection().execute("DROP TABLE event_counts")
        store._connection().execute("DROP TABLE event_fields")
    with SQLiteStore(tmp_path / "old.db") as reopened:
        assert sum(kept(reopened).values()) == len({e["event"]["id"] for e in replayed})
        assert kept_fields(reopened) == fields
        assert_counts_exact(reopened)


@pytest.mark.parametrize(("query", "field", "answered"), [
    ("event.dataset:modbus AND event.kind:event", None, True),
    ("NOT event.severity:[1 TO 2]", "network.protocol", True),
    ("event.dataset:modbus AND source.port:502", None, False),
    ("modbus", None, False),
    ("event.kind:alert", "rule.name", False),
])
def test_only_queries_on_counted_fields_are_answered_from_counts(query: str, field: str | None,
                                                                 answered: bool) -> None:
    assert sqlite_counts.answers(parse_query(query), field) is answered


def test_a_range_splits_into_whole_hours_and_edges() -> None:
    hour = sqlite_counts.HOUR_US
    split = sqlite_counts.split(hour + 5, 4 * hour + 7)
    assert split is not None and split.hours.params == [2 * hour, 4 * hour]
    assert split.edges == [(hour + 5, 2 * hour), (4 * hour, 4 * hour + 7)]
    assert sqlite_counts.split(hour + 5, 2 * hour - 1) is None
    assert sqlite_counts.split(None, None).edges == []   # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["modbus", "", "协议", 3, -1, 2**63 - 1, 2**64 - 1, 1.5, True,
                                   False, None, [1, 2], {"a": "b"}])
def test_values_are_what_json_extract_reads(value: Any) -> None:
    document = orjson.dumps({"network": {"protocol": value}}).decode()
    extracted = sqlite3.connect(":memory:").execute(
        "SELECT json_extract(?, '$.network.protocol')", [document]).fetchone()[0]
    assert sqlite_counts.sql_value(value) == extracted
    assert type(sqlite_counts.sql_value(value)) is type(extracted)
