"""The storage contract: what every backend must do, on the corpus of ``tests.utils.events``.

Corpus, oldest first: read (10:00:00), read_reply (10:00:01), write (10:01), exception (10:02),
alert (10:02:01), flow (11:00), weird (12:00, observer tap2), weird_v6 (next day, IPv6).
"""

from __future__ import annotations

import copy
import threading

import pytest

from liaowang.events import iso_timestamp
from pipelines.store.base import Event, QueryError, SearchResult, Store, StoreError, TimeRange
from tests.utils.events import at, make_event, modbus_event

ALL = {"read", "read_reply", "write", "exception", "alert", "flow", "weird", "weird_v6"}
MODBUS = {"read", "read_reply", "write", "exception", "alert"}


def names(result: SearchResult, events: dict[str, Event]) -> set[str]:
    by_id = {event["event"]["id"]: name for name, event in events.items()}
    return {by_id[event["event"]["id"]] for event in result.data}


def page_through(store: Store, size: int, query: str = "") -> list[Event]:
    seen: list[Event] = []
    cursor = None
    while True:
        page = store.search(query, size=size, cursor=cursor)
        assert len(page.data) <= size
        seen += page.data
        cursor = page.cursor
        if cursor is None:
            return seen


# --- writing and reading -----------------------------------------------------------------------

def test_write_then_get_returns_the_event_unchanged(store: Store,
                                                    events: dict[str, Event]) -> None:
    assert store.write(list(events.values())) == len(events)
    for event in events.values():
        assert store.get(event["event"]["id"]) == event


def test_unsigned_64_bit_numbers_are_kept(store: Store) -> None:
    """PFCP SEIDs and volume counters use all 64 bits; a store must neither refuse nor round
    them, and finds the SEIDs below 2^63 that real peers hand out."""
    everything = 2**64 - 1
    huge = make_event("pfcp", at(5), pfcp={"message_type": 54, "sequence": 7, "seid": everything,
                                           "usage_report": {"total_volume": [everything - 1]}})
    usual = make_event("pfcp", at(6), pfcp={"message_type": 54, "sequence": 8,
                                            "seid": 2**62 + 3})
    assert store.write([huge, usual]) == 2
    assert store.get(huge["event"]["id"]) == huge
    assert names_of(store.search(f"pfcp.seid:{2**62 + 3}")) == [usual["event"]["id"]]


def names_of(result: SearchResult) -> list[str]:
    return [event["event"]["id"] for event in result.data]


def test_get_unknown_id_is_none(filled: Store) -> None:
    assert filled.get("no-such-id") is None


def test_empty_batch_writes_nothing(store: Store) -> None:
    assert store.write([]) == 0
    assert store.search().count == 0


def test_rewriting_an_id_replaces_the_event(filled: Store, events: dict[str, Event]) -> None:
    changed = copy.deepcopy(events["write"])
    changed["modbus"]["function_code"] = 16
    filled.write([changed, events["read"]])
    assert filled.search().count == len(events)
    assert filled.get(changed["event"]["id"]) == changed
    assert filled.search("modbus.function_code:6").count == 0


def test_last_copy_of_an_id_in_a_batch_wins(store: Store, events: dict[str, Event]) -> None:
    first, second = events["read"], copy.deepcopy(events["read"])
    second["modbus"]["length"] = 99
    store.write([first, second])
    assert store.search().count == 1
    assert store.get(first["event"]["id"]) == second


def test_event_without_id_is_refused(store: Store, events: dict[str, Event]) -> None:
    broken = copy.deepcopy(events["read"])
    del broken["event"]["id"]
    with pytest.raises(StoreError, match=r"event\.id"):
        store.write([broken])


# --- searching ---------------------------------------------------------------------------------

QUERIES = [
    ("event.dataset:modbus", MODBUS),
    ("modbus.function_code:3", {"read", "read_reply"}),
    ('weird.name:"modbus_invalid_protocol_id"', {"weird"}),
    ("event.kind:alert", {"alert"}),
    ("source.port:51000", {"flow"}),
    ("illegal_data_address", {"exception"}),
    ("ILLEGAL_data", {"exception"}),
    ("lacks", {"weird_v6"}),
    ('"Ünïcode 1"', {"weird"}),
    ("after", {"alert"}),
    ("transaction_id", set()),
    ("event.dataset:modbus AND modbus.is_response:true", {"read_reply", "exception"}),
    ("modbus.function_code:3 OR modbus.function_code:6", {"read", "read_reply", "write"}),
    ("NOT event.dataset:modbus", {"flow", "weird", "weird_v6"}),
    ("NOT modbus.function_code:3", ALL - {"read", "read_reply"}),
    ("-event.dataset:modbus -event.dataset:weird", {"flow"}),
    ("+event.dataset:weird +observer.name:tap1", {"weird_v6"}),
    ("event.dataset:weird observer.name:tap1", {"weird_v6"}),
    ("(modbus.function_code:3 OR event.dataset:flow) AND NOT modbus.is_response:true",
     {"read", "flow"}),
    ("modbus.function_code:(6 OR 134)", {"write", "exception", "alert"}),
    ("modbus.function_code:[4 TO 200]", {"write", "exception", "alert"}),
    ("modbus.function_code:{3 TO 134}", {"write"}),
    ("modbus.function_code:>20", {"exception", "alert"}),
    ("modbus.function_code:>=6", {"write", "exception", "alert"}),
    ("modbus.function_code:<6", {"read", "read_reply"}),
    ("destination.bytes:[1000 TO *]", {"flow"}),
    ("@timestamp:[2015-10-22T10:01:00Z TO 2015-10-22T11:00:00Z]",
     {"write", "exception", "alert", "flow"}),
    ("@timestamp:{2015-10-22T10:01:00Z TO 2015-10-22T11:00:00Z}", {"exception", "alert"}),
    ("@timestamp:<2015-10-22T10:00:01Z", {"read"}),
    ("@timestamp:2015-10-23", {"weird_v6"}),
    ("@timestamp:[* TO 2015-10-22]", ALL - {"weird_v6"}),
    ("event.end:>2015-10-22T10:30:00Z", {"flow"}),
    ("weird.name:modbus_*", {"weird"}),
    ("weird.name:*magic", {"weird_v6"}),
    ("modbus.function_name:write_*_register", {"write", "exception"}),
    ("observer.name:tap?", ALL),
    ("source.ip:192.168.1.*", {"flow"}),
    ("_exists_:modbus.exception_code", {"exception", "alert"}),
    ("modbus.exception_code:*", {"exception", "alert"}),
    ("_exists_:pcap.frame", {"alert", "weird"}),
    ("NOT _exists_:modbus", {"flow", "weird", "weird_v6"}),
    ("source.ip:10.0.0.2", {"read_reply", "exception", "alert"}),
    ('source.ip:"2001:db8:0::1"', {"weird_v6"}),
    ('source.ip:"10.0.0.0/8"', ALL - {"flow", "weird_v6"}),
    ('source.ip:"192.168.0.0/16"', {"flow"}),
    ('destination.ip:"2001:db8::/32"', {"weird_v6"}),
    ('destination.ip:"2001:db8::/48"', set()),
    ('source.ip:"2001:db8::/48"', {"weird_v6"}),
    ("*", ALL),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_search_by_query(filled: Store, events: dict[str, Event], query: str,
                         expected: set[str]) -> None:
    result = filled.search(query)
    assert names(result, events) == expected
    assert result.count == len(expected)


def test_search_returns_everything_newest_first(filled: Store, events: dict[str, Event]) -> None:
    result = filled.search()
    assert result.count == len(events)
    assert result.cursor is None
    assert result.data == sorted(events.values(), key=lambda e: e["@timestamp"], reverse=True)


def test_time_range_includes_start_and_excludes_end(filled: Store,
                                                    events: dict[str, Event]) -> None:
    when = TimeRange(iso_timestamp(at(1)), iso_timestamp(at(120)))
    assert names(filled.search(when=when), events) == {"read_reply", "write"}
    assert names(filled.search(when=TimeRange(start="2015-10-23T00:00:00Z")),
                 events) == {"weird_v6"}
    assert names(filled.search(when=TimeRange(end="2015-10-22T10:00:01Z")), events) == {"read"}


def test_time_range_and_query_combine(filled: Store, events: dict[str, Event]) -> None:
    when = TimeRange("2015-10-22T10:00:30Z", "2015-10-22T23:00:00Z")
    assert names(filled.search("event.dataset:modbus", when), events) == {
        "write", "exception", "alert"}


@pytest.mark.parametrize("size", [1, 3, 8, 100])
def test_paging_visits_every_match_once_in_order(filled: Store, size: int) -> None:
    assert page_through(filled, size) == filled.search(size=100).data
    first = filled.search(size=size)
    assert first.count == 8
    assert (first.cursor is None) == (size >= 8)


def test_paging_with_a_query_and_equal_timestamps(store: Store) -> None:
    same_time = [modbus_event(at(0), 3, transaction_id=n) for n in range(7)]
    store.write(same_time + [modbus_event(at(1), 6, transaction_id=n) for n in range(3)])
    seen = page_through(store, 2, "modbus.function_code:3")
    assert sorted(e["event"]["id"] for e in seen) == sorted(e["event"]["id"] for e in same_time)
    assert store.search("modbus.function_code:3", size=2).count == 7


def test_a_garbled_cursor_is_a_query_error(filled: Store) -> None:
    with pytest.raises(QueryError, match="cursor"):
        filled.search(cursor="not a cursor!")


# --- aggregations ------------------------------------------------------------------------------

def test_histogram_counts_per_bucket_oldest_first(filled: Store) -> None:
    buckets = filled.histogram(interval_s=60)
    assert [(b.key, b.count) for b in buckets] == [
        ("2015-10-22T10:00:00.000000Z", 2), ("2015-10-22T10:01:00.000000Z", 1),
        ("2015-10-22T10:02:00.000000Z", 2), ("2015-10-22T11:00:00.000000Z", 1),
        ("2015-10-22T12:00:00.000000Z", 1), ("2015-10-23T10:00:00.000000Z", 1)]


def test_histogram_with_query_and_time_range(filled: Store) -> None:
    when = TimeRange(end="2015-10-23T00:00:00Z")
    buckets = filled.histogram("NOT event.kind:alert", when, interval_s=3600)
    assert [(b.key, b.count) for b in buckets] == [
        ("2015-10-22T10:00:00.000000Z", 4), ("2015-10-22T11:00:00.000000Z", 1),
        ("2015-10-22T12:00:00.000000Z", 1)]


@pytest.mark.parametrize(("field", "expected"), [
    ("event.dataset", [("modbus", 5), ("weird", 2), ("flow", 1)]),
    ("observer.name", [("tap1", 7), ("tap2", 1)]),
    ("modbus.function_code", [(3, 2), (134, 2), (6, 1)]),
    ("modbus.is_response", [(False, 2), (True, 2)]),
    ("source.ip", [("10.0.0.1", 3), ("10.0.0.2", 3), ("192.168.1.10", 1), ("2001:db8::1", 1)]),
])
def test_terms_most_frequent_first_then_by_key(filled: Store, field: str,
                                               expected: list[tuple[object, int]]) -> None:
    assert [(b.key, b.count) for b in filled.terms(field)] == expected


def test_terms_with_query_time_range_and_size(filled: Store) -> None:
    when = TimeRange(start="2015-10-22T10:00:30Z")
    buckets = filled.terms("modbus.function_code", "event.kind:event", when, size=1)
    assert [(b.key, b.count) for b in buckets] == [(6, 1)]
    assert len(filled.terms("event.dataset", size=2)) == 2


def test_terms_on_an_unknown_field_is_a_query_error(filled: Store) -> None:
    with pytest.raises(QueryError, match=r"no\.such"):
        filled.terms("no.such")


# --- alerts ------------------------------------------------------------------------------------

def test_update_alert_merges_changes(filled: Store, events: dict[str, Event]) -> None:
    alert_id = events["alert"]["event"]["id"]
    changes = {"alert": {"status": "closed", "assignee": "ana"}, "event": {"reason": None}}
    updated = filled.update_alert(alert_id, changes)
    expected = copy.deepcopy(events["alert"]) | {"alert": {"status": "closed", "assignee": "ana"}}
    del expected["event"]["reason"]
    assert updated == expected
    assert filled.get(alert_id) == expected
    again = filled.update_alert(alert_id, {"alert": {"assignee": "li"}})
    assert again is not None and again["alert"] == {"status": "closed", "assignee": "li"}
    assert filled.search("event.kind:alert").count == 1


def test_update_alert_ignores_events_and_unknown_ids(filled: Store,
                                                     events: dict[str, Event]) -> None:
    event = events["exception"]
    assert filled.update_alert(event["event"]["id"], {"alert": {"status": "closed"}}) is None
    assert filled.get(event["event"]["id"]) == event
    assert filled.update_alert("no-such-id", {"alert": {"status": "closed"}}) is None


def test_update_alert_cannot_change_identity(filled: Store, events: dict[str, Event]) -> None:
    alert_id = events["alert"]["event"]["id"]
    with pytest.raises(StoreError):
        filled.update_alert(alert_id, {"event": {"kind": "event"}})
    assert filled.get(alert_id) == events["alert"]


# --- errors and concurrency --------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "modbus.function_code:(3 OR", "source.ip:[10.0.0.1 TO", 'weird.name:"open', "AND",
    "modbus.function_code:three", 'source.ip:"10.0.0.0/33"', "@timestamp:>yesterday",
])
def test_bad_query_is_a_query_error(filled: Store, query: str) -> None:
    with pytest.raises(QueryError) as caught:
        filled.search(query)
    assert str(caught.value)


def test_unknown_field_is_a_query_error_naming_it(filled: Store) -> None:
    with pytest.raises(QueryError, match=r"modbus\.fonction_code"):
        filled.search("modbus.fonction_code:3")


def test_bad_time_range_is_a_query_error(filled: Store) -> None:
    with pytest.raises(QueryError, match="yesterday"):
        filled.search(when=TimeRange(start="yesterday"))


def test_concurrent_writers_and_readers(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for batch in range(5):
                store.write([modbus_event(at(batch), 3, transaction_id=n * 100 + i)
                             for i in range(20)])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(20):
                store.search("modbus.function_code:3", size=10)
                store.terms("event.dataset")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.search().count == 4 * 5 * 20
