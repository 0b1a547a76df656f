"""The storage contract for incidents, on both backends: kept apart from events, rewritten by
the correlator without losing triage, filtered, sorted and paged."""

from __future__ import annotations

import copy

import pytest

from liaowang.schema import validate
from pipelines.store.base import Event, QueryError, Store, StoreError, TimeRange
from pipelines.store.incidents import IncidentFilter
from tests.utils.events import corpus
from tests.utils.incidents import incident_document

# name → (last alert, severity, risk, state)
CASES = {
    "scan": ("2015-10-22T10:00:00.000000Z", 1, 21.0, "closed"),
    "writes": ("2015-10-22T10:05:00.000000Z", 3, 73.0, "open"),
    "stop": ("2015-10-22T10:10:00.000000Z", 4, 99.0, "open"),
    "noise": ("2015-10-22T11:00:00.000000Z", 2, 47.0, "open"),
}


@pytest.fixture
def incidents() -> dict[str, Event]:
    return {name: incident_document(name, last, severity=severity, risk=risk, state=state)
            for name, (last, severity, risk, state) in CASES.items()}


@pytest.fixture
def stored(store: Store, incidents: dict[str, Event]) -> Store:
    assert store.write_incidents(list(incidents.values())) == len(incidents)
    return store


def names(found: list[Event], incidents: dict[str, Event]) -> list[str]:
    by_id = {incident["event"]["id"]: name for name, incident in incidents.items()}
    return [by_id[incident["event"]["id"]] for incident in found]


def test_the_documents_conform_to_the_schema(incidents: dict[str, Event]) -> None:
    for incident in incidents.values():
        assert validate(incident) == []


def test_write_then_get(stored: Store, incidents: dict[str, Event]) -> None:
    for incident in incidents.values():
        assert stored.get_incident(incident["event"]["id"]) == incident
    assert stored.get_incident("no-such-incident") is None


def test_incidents_in_an_event_batch_are_kept_apart(store: Store,
                                                    incidents: dict[str, Event]) -> None:
    events = list(corpus().values())
    assert store.write([*events, incidents["stop"]]) == len(events) + 1
    assert store.search().count == len(events)
    assert store.get(incidents["stop"]["event"]["id"]) is None
    assert store.get_incident(incidents["stop"]["event"]["id"]) == incidents["stop"]


def test_a_new_version_keeps_the_triage(stored: Store, incidents: dict[str, Event]) -> None:
    incident_id = incidents["writes"]["event"]["id"]
    triage = {"status": "in_progress", "assignee": "ana",
              "comments": [{"by": "ana", "at": "2015-10-22T10:06:00Z", "text": "on it"}]}
    updated = stored.update_incident(incident_id, {"incident": triage})
    assert updated is not None and updated["incident"]["assignee"] == "ana"
    newer = copy.deepcopy(incidents["writes"])
    newer["incident"] |= {"state": "closed", "alert_count": 7}
    stored.write_incidents([newer])
    kept = stored.get_incident(incident_id)
    assert kept is not None
    assert kept["incident"] == newer["incident"] | triage


def test_update_unknown_or_changing_identity(stored: Store, incidents: dict[str, Event]) -> None:
    assert stored.update_incident("no-such-incident", {"incident": {"status": "new"}}) is None
    incident_id = incidents["scan"]["event"]["id"]
    with pytest.raises(StoreError):
        stored.update_incident(incident_id, {"event": {"id": "other"}})
    assert stored.get_incident(incident_id) == incidents["scan"]


def test_an_incident_without_id_is_refused(store: Store, incidents: dict[str, Event]) -> None:
    broken = copy.deepcopy(incidents["scan"])
    del broken["event"]["id"]
    with pytest.raises(StoreError):
        store.write_incidents([broken])


@pytest.mark.parametrize(("filters", "expected"), [
    (IncidentFilter(), ["noise", "stop", "writes", "scan"]),
    (IncidentFilter(sort="risk"), ["stop", "writes", "noise", "scan"]),
    (IncidentFilter(state="closed"), ["scan"]),
    (IncidentFilter(min_severity=3), ["stop", "writes"]),
    (IncidentFilter(when=TimeRange("2015-10-22T10:05:00Z", "2015-10-22T11:00:00Z")),
     ["stop", "writes"]),
    (IncidentFilter(status="new", state="open", sort="risk"), ["stop", "writes", "noise"]),
], ids=["last-seen", "risk", "state", "severity", "time", "combined"])
def test_search_filters_and_sorts(stored: Store, incidents: dict[str, Event],
                                  filters: IncidentFilter, expected: list[str]) -> None:
    found = stored.search_incidents(filters)
    assert names(found.data, incidents) == expected
    assert found.count == len(expected) and found.cursor is None


def test_triage_status_filter(stored: Store, incidents: dict[str, Event]) -> None:
    stored.update_incident(incidents["noise"]["event"]["id"],
                           {"incident": {"status": "closed_false_positive"}})
    closed = stored.search_incidents(IncidentFilter(status="closed_false_positive"))
    fresh = stored.search_incidents(IncidentFilter(status="new"))
    assert names(closed.data, incidents) == ["noise"]
    assert names(fresh.data, incidents) == ["stop", "writes", "scan"]


@pytest.mark.parametrize("sort", ["last_seen", "risk"])
def test_paging_visits_each_once_in_order(stored: Store, incidents: dict[str, Event],
                                          sort: str) -> None:
    filters = IncidentFilter(sort=sort)  # type: ignore[arg-type]
    seen, cursor = [], None
    while True:
        page = stored.search_incidents(filters, size=1, cursor=cursor)
        assert page.count == len(incidents)
        seen += page.data
        if (cursor := page.cursor) is None:
            break
    assert seen == stored.search_incidents(filters).data


@pytest.mark.parametrize("cursor", ["garbled!", "WzEsMl0"])
def test_a_bad_cursor_is_a_query_error(stored: Store, cursor: str) -> None:
    with pytest.raises(QueryError):
        stored.search_incidents(IncidentFilter(), cursor=cursor)


def test_bad_filters_are_query_errors(stored: Store) -> None:
    with pytest.raises(QueryError):
        IncidentFilter(sort="name")  # type: ignore[arg-type]
    with pytest.raises(QueryError):
        stored.search_incidents(IncidentFilter(when=TimeRange("yesterday")))
    with pytest.raises(QueryError):
        stored.search_incidents(size=0)
