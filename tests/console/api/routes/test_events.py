"""``/api/events``: search, paging, time ranges, aggregations and errors, on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipelines.store.base import Event, Store


def stamp(ago: timedelta) -> str:
    return f"{datetime.now(UTC) - ago:%Y-%m-%dT%H:%M:%S.%f}Z"


LAST_HOUR = {"from": stamp(timedelta(hours=1))}


def ids(page: dict[str, Any]) -> list[str]:
    return [event["event"]["id"] for event in page["data"]]


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_search_returns_every_event_newest_first(client: TestClient,
                                                 events: dict[str, Event]) -> None:
    page = search(client)
    assert page["count"] == len(events)
    assert page["cursor"] is None
    stamps = [event["@timestamp"] for event in page["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert page["data"][0] == events["read_response"]


@pytest.mark.parametrize(("query", "expected"), [
    ("modbus.function_code:6", {"write_request"}),
    ("event.dataset:modbus AND modbus.is_response:true", {"read_response", "exception"}),
    ("modbus.exception_code:*", {"exception"}),
    ("NOT event.dataset:modbus", {"flow", "weird"}),
    ('weird.name:"modbus_invalid_protocol_id"', {"weird"}),
], ids=["field", "and", "exists", "not", "phrase"])
def test_search_by_query(client: TestClient, events: dict[str, Event], query: str,
                         expected: set[str]) -> None:
    page = search(client, q=query)
    assert set(ids(page)) == {events[name]["event"]["id"] for name in expected}
    assert page["count"] == len(expected)


def test_search_pages_with_cursor(client: TestClient) -> None:
    everything = ids(search(client))
    seen, cursor = [], None
    while True:
        page = search(client, size=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["data"]) <= 2
        assert page["count"] == len(everything)
        seen += ids(page)
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == everything


def test_search_in_time_range(client: TestClient, events: dict[str, Event]) -> None:
    assert search(client, **LAST_HOUR)["count"] == len(events) - 1
    window = {"from": stamp(timedelta(minutes=10)), "to": stamp(timedelta(seconds=90))}
    assert set(ids(search(client, **window))) == {
        events[name]["event"]["id"] for name in ("write_request", "exception", "flow")}


@pytest.mark.parametrize("params", [
    {"from": "yesterday"}, {"to": "2015-13-45T99:00:00Z"},
    {"from": "2015-10-23T00:00:00Z", "to": "2015-10-22T00:00:00Z"},
    {"size": 0}, {"size": 1001},
], ids=["from-garbage", "to-garbage", "from-after-to", "size-0", "size-1001"])
def test_search_refuses_bad_parameters(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/api/events", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize("query", ["modbus.function_code:(3 OR", "source.ip:[10.0.0.1 TO"])
def test_bad_query_is_400_with_a_message(client: TestClient, query: str) -> None:
    response = client.get("/api/events", params={"q": query})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert "Traceback" not in response.text


def test_read_event(client: TestClient, events: dict[str, Event]) -> None:
    wanted = events["exception"]
    response = client.get(f"/api/events/{wanted['event']['id']}")
    assert response.status_code == 200
    assert response.json() == wanted


def test_read_missing_event_is_404(client: TestClient) -> None:
    response = client.get("/api/events/no-such-id")
    assert response.status_code == 404
    assert response.json() == {"detail": "no event with this id"}


def test_histogram_counts_matches_per_bucket(client: TestClient) -> None:
    params = {"q": "event.dataset:modbus", "interval": "1m", **LAST_HOUR}
    response = client.get("/api/events/histogram", params=params)
    assert response.status_code == 200
    buckets = response.json()["data"]
    assert sum(bucket["count"] for bucket in buckets) == 4
    keys = [bucket["key"] for bucket in buckets]
    assert keys == sorted(keys)


def test_histogram_interval_units(client: TestClient) -> None:
    def histogram(interval: str) -> Any:
        return client.get("/api/events/histogram", params={"interval": interval}).json()

    assert histogram("5m") == histogram("300") == histogram("300s")
    assert client.get("/api/events/histogram", params={"interval": "soon"}).status_code == 422


def test_terms_most_frequent_first(client: TestClient) -> None:
    response = client.get("/api/events/terms", params={"field": "event.dataset"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data[0] == {"key": "modbus", "count": 5}
    assert sorted(data[1:], key=lambda b: b["key"]) == [
        {"key": "flow", "count": 1}, {"key": "weird", "count": 1}]


def test_terms_with_query_time_range_and_size(client: TestClient) -> None:
    params = {"field": "modbus.function_code", "q": "event.dataset:modbus", "size": 1,
              **LAST_HOUR}
    response = client.get("/api/events/terms", params=params)
    assert response.json() == {"data": [{"key": 3, "count": 2}]}


def test_terms_needs_a_field(client: TestClient) -> None:
    assert client.get("/api/events/terms").status_code == 422


def test_terms_of_an_unknown_field_is_400(client: TestClient) -> None:
    response = client.get("/api/events/terms", params={"field": "modbus.function_cod"})
    assert response.status_code == 400
    assert "modbus.function_code" in response.json()["detail"]


def test_store_failure_is_503_without_internals(client: TestClient, store: Store) -> None:
    store.close()
    response = client.get("/api/events")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the event store cannot answer right now; try again later"}
