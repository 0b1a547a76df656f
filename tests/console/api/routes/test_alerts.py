"""``/api/alerts``: filters, detail with evidence, triage of one and many, on a real store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.auth.roles import Role
from liaowang.events import get_field
from pipelines.store.base import Event, Store


def ids(page: dict[str, Any]) -> set[str]:
    return {alert["event"]["id"] for alert in page["data"]}


def named(alerts: dict[str, Event], *names: str) -> set[str]:
    return {alerts[name]["event"]["id"] for name in names}


@pytest.fixture
def analyst(client_as: Callable[[Role], TestClient]) -> TestClient:
    return client_as(Role.analyst)


def test_lists_only_alerts_newest_first(client: TestClient, alerts: dict[str, Event]) -> None:
    page = client.get("/api/alerts").json()
    assert page["count"] == len(alerts) and page["cursor"] is None
    assert [a["event"]["id"] for a in page["data"]] == [
        alerts[name]["event"]["id"] for name in ("write", "exception", "closed_critical",
                                                 "acknowledged")]


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "new"}, {"write", "exception"}),
    ({"status": "acknowledged"}, {"acknowledged"}),
    ({"status": "closed_false_positive"}, {"closed_critical"}),
    ({"status": "in_progress"}, set()),
    ({"min_severity": 3}, {"write", "closed_critical"}),
    ({"q": "source.ip:192.0.2.9"}, {"acknowledged"}),
    ({"q": "event.dataset:modbus", "status": "new", "min_severity": 3}, {"write"}),
    ({"q": "event.dataset:modbus OR event.dataset:flow"}, {"write", "exception",
                                                           "closed_critical", "acknowledged"}),
], ids=["new-when-absent", "acknowledged", "closed", "none", "severity", "query", "combined",
        "or-stays-inside"])
def test_filters(client: TestClient, alerts: dict[str, Event], params: dict[str, Any],
                 expected: set[str]) -> None:
    page = client.get("/api/alerts", params=params).json()
    assert ids(page) == named(alerts, *expected)
    assert page["count"] == len(expected)


def test_a_query_cannot_escape_to_other_events(client: TestClient,
                                               alerts: dict[str, Event]) -> None:
    response = client.get("/api/alerts", params={"q": "x) OR (event.kind:event"})
    assert response.status_code == 400


@pytest.mark.parametrize("params", [{"min_severity": 5}, {"status": "closed"}, {"size": 0}])
def test_bad_filters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/api/alerts", params=params).status_code == 422


def test_pages_with_cursor(client: TestClient, alerts: dict[str, Event]) -> None:
    first = client.get("/api/alerts", params={"size": 3}).json()
    second = client.get("/api/alerts", params={"size": 3, "cursor": first["cursor"]}).json()
    assert len(first["data"]) == 3 and len(second["data"]) == 1 and second["cursor"] is None
    assert ids(first) | ids(second) == named(alerts, *alerts)


def test_detail_has_the_evidence_events(client: TestClient, alerts: dict[str, Event],
                                        events: dict[str, Event]) -> None:
    alert = alerts["exception"]
    body = client.get(f"/api/alerts/{alert['event']['id']}").json()
    assert body["alert"] == alert
    assert body["evidence"] == [events["exception"], events["write_request"]]


def test_detail_of_an_event_that_is_no_alert_is_404(client: TestClient,
                                                    events: dict[str, Event]) -> None:
    for alert_id in (events["flow"]["event"]["id"], "no-such-id"):
        response = client.get(f"/api/alerts/{alert_id}")
        assert response.status_code == 404
        assert response.json() == {"detail": "no alert with this id"}


def test_triage_sets_status_and_assignee(analyst: TestClient, store: Store,
                                         alerts: dict[str, Event]) -> None:
    alert_id = alerts["write"]["event"]["id"]
    response = analyst.patch(f"/api/alerts/{alert_id}",
                             json={"status": "in_progress", "assignee": "analyst"})
    assert response.status_code == 200
    assert response.json()["alert"] == {"status": "in_progress", "assignee": "analyst"}
    assert store.get(alert_id)["alert"] == {"status": "in_progress", "assignee": "analyst"}
    assert response.json()["rule"] == alerts["write"]["rule"]


def test_triage_null_assignee_unassigns(analyst: TestClient, store: Store,
                                        alerts: dict[str, Event]) -> None:
    alert_id = alerts["acknowledged"]["event"]["id"]
    analyst.patch(f"/api/alerts/{alert_id}", json={"assignee": None})
    assert store.get(alert_id)["alert"] == {"status": "acknowledged"}


def test_comments_append(analyst: TestClient, client: TestClient, store: Store,
                         alerts: dict[str, Event]) -> None:
    alert_id = alerts["write"]["event"]["id"]
    analyst.patch(f"/api/alerts/{alert_id}", json={"comment": "PLC write from an unknown host"})
    client.patch(f"/api/alerts/{alert_id}", json={"comment": "confirmed", "status": "acknowledged"})
    comments = get_field(store.get(alert_id), "alert.comments")
    assert [(c["by"], c["text"]) for c in comments] == [
        ("token:analyst-automation", "PLC write from an unknown host"),
        ("token:admin-automation", "confirmed")]
    assert all(c["at"].endswith("Z") for c in comments)
    assert comments[0]["at"] <= comments[1]["at"]


@pytest.mark.parametrize("body", [{}, {"status": "closed"}, {"comment": ""},
                                  {"status": "acknowledged", "severity": 1}],
                         ids=["empty", "bad-status", "empty-comment", "unknown-field"])
def test_bad_triage_is_422(analyst: TestClient, alerts: dict[str, Event],
                           body: dict[str, Any]) -> None:
    alert_id = alerts["write"]["event"]["id"]
    assert analyst.patch(f"/api/alerts/{alert_id}", json=body).status_code == 422


def test_triage_of_a_non_alert_is_404(analyst: TestClient, store: Store,
                                      events: dict[str, Event]) -> None:
    event_id = events["flow"]["event"]["id"]
    response = analyst.patch(f"/api/alerts/{event_id}", json={"status": "acknowledged"})
    assert response.status_code == 404
    assert store.get(event_id) == events["flow"]


def test_bulk_triage(analyst: TestClient, store: Store, alerts: dict[str, Event],
                     events: dict[str, Event]) -> None:
    chosen = [alerts["write"]["event"]["id"], alerts["exception"]["event"]["id"]]
    response = analyst.post("/api/alerts/bulk", json={
        "ids": [*chosen, events["flow"]["event"]["id"], "no-such-id", chosen[0]],
        "status": "closed_true_positive", "assignee": "analyst"})
    assert response.json() == {"updated": 2}
    for alert_id in chosen:
        assert store.get(alert_id)["alert"] == {"status": "closed_true_positive",
                                                "assignee": "analyst"}
    assert "alert" not in store.get(events["flow"]["event"]["id"])
    closed = analyst.get("/api/alerts", params={"status": "closed_true_positive"}).json()
    assert ids(closed) == set(chosen)


@pytest.mark.parametrize("body", [{"ids": ["a"]}, {"ids": [], "status": "acknowledged"},
                                  {"ids": ["a"] * 1001, "status": "acknowledged"}],
                         ids=["no-change", "no-ids", "too-many"])
def test_bad_bulk_is_422(analyst: TestClient, body: dict[str, Any]) -> None:
    assert analyst.post("/api/alerts/bulk", json=body).status_code == 422


def test_triage_is_audited(analyst: TestClient, client: TestClient,
                           alerts: dict[str, Event]) -> None:
    alert_id = alerts["write"]["event"]["id"]
    analyst.patch(f"/api/alerts/{alert_id}", json={"status": "acknowledged"})
    analyst.post("/api/alerts/bulk", json={"ids": [alert_id], "assignee": "ana"})
    entries = client.get("/api/audit", params={"size": 2}).json()["data"]
    assert [(e["username"], e["action"], e["target"]) for e in entries] == [
        ("token:analyst-automation", "alert.bulk_update", alert_id),
        ("token:analyst-automation", "alert.update", alert_id)]
    assert '"status": "acknowledged"' in entries[1]["detail"]


def test_real_alerts_with_their_evidence(client: TestClient, real_alerts: list[Event]) -> None:
    page = client.get("/api/alerts", params={"size": 1000}).json()
    assert page["count"] == len(real_alerts) >= 10
    burst = next(a for a in real_alerts if len(get_field(a, "evidence.event_ids")) > 1)
    body = client.get(f"/api/alerts/{burst['event']['id']}").json()
    frames = [event["pcap"]["frame"] for event in body["evidence"]]
    assert frames == get_field(burst, "evidence.frames")
    rule = client.get("/api/alerts", params={"q": f'rule.id:"{burst["rule"]["id"]}"'}).json()
    assert burst["event"]["id"] in ids(rule)
