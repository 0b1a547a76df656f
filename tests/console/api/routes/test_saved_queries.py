"""``/api/saved-queries`` (each hunter's own named queries) and ``/api/audit`` paging."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from console.auth.roles import Role
from console.auth.saved_queries import MAX_PER_USER


@pytest.fixture
def analyst(client_as: Callable[[Role], TestClient]) -> TestClient:
    return client_as(Role.analyst)


def names(client: TestClient) -> list[str]:
    return [q["name"] for q in client.get("/api/saved-queries").json()["data"]]


def test_save_list_replace_and_delete(analyst: TestClient) -> None:
    first = analyst.post("/api/saved-queries", json={"name": "writes",
                                                     "query": "modbus.function_code:16"})
    assert first.status_code == 201 and first.json()["range"] == "all"
    analyst.post("/api/saved-queries", json={"name": "stops", "query": "s7comm.function:41",
                                             "range": "24h"})
    again = analyst.post("/api/saved-queries", json={"name": "writes", "range": "7d",
                                                     "query": "modbus.function_code:(6 OR 16)"})
    assert again.json()["id"] == first.json()["id"]
    saved = analyst.get("/api/saved-queries").json()["data"]
    assert [(q["name"], q["query"], q["range"]) for q in saved] == [
        ("stops", "s7comm.function:41", "24h"), ("writes", "modbus.function_code:(6 OR 16)", "7d")]
    assert analyst.delete(f"/api/saved-queries/{first.json()['id']}").status_code == 204
    assert names(analyst) == ["stops"]
    assert analyst.delete(f"/api/saved-queries/{first.json()['id']}").status_code == 204


def test_each_caller_sees_and_deletes_only_their_own(analyst: TestClient,
                                                     client: TestClient) -> None:
    mine = analyst.post("/api/saved-queries", json={"name": "mine", "query": "a"}).json()
    client.post("/api/saved-queries", json={"name": "admins", "query": "b"})
    assert names(analyst) == ["mine"] and names(client) == ["admins"]
    assert client.delete(f"/api/saved-queries/{mine['id']}").status_code == 204
    assert names(analyst) == ["mine"]


@pytest.mark.parametrize("body", [{"name": "", "query": "a"}, {"name": "x", "query": ""},
                                  {"name": "x", "query": "a", "range": "forever"},
                                  {"name": "x", "query": "a", "owner": "someone"}])
def test_invalid_bodies_are_422(analyst: TestClient, body: dict) -> None:
    assert analyst.post("/api/saved-queries", json=body).status_code == 422


def test_the_number_kept_per_user_is_bounded(analyst: TestClient) -> None:
    for n in range(MAX_PER_USER):
        analyst.post("/api/saved-queries", json={"name": f"q{n}", "query": "a"})
    refused = analyst.post("/api/saved-queries", json={"name": "one more", "query": "a"})
    assert refused.status_code == 409
    assert analyst.post("/api/saved-queries", json={"name": "q0", "query": "b"}).status_code == 201


def test_audit_pages_follow_each_other(client: TestClient) -> None:
    for n in range(5):
        client.post("/api/saved-queries", json={"name": f"q{n}", "query": "a"})
    everything = client.get("/api/audit", params={"size": 1000}).json()["data"]
    first = client.get("/api/audit", params={"size": 3}).json()["data"]
    second = client.get("/api/audit", params={"size": 3, "offset": 3}).json()["data"]
    assert first + second == everything[:6]
    assert client.get("/api/audit", params={"offset": -1}).status_code == 422
