"""``/api/incidents``: list with filters and sorts, detail with timeline and alerts, triage, on
a real store holding what the correlator made of real alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.auth.roles import Role
from pipelines.store.base import Event, Store
from tests.console.conftest import stamp
from tests.utils.incidents import incident_document

MINUTE_AGO = "a minute ago"   # after the alerts' incident, before the quiet one: set per test


@pytest.fixture
def analyst(client_as: Callable[[Role], TestClient]) -> TestClient:
    return client_as(Role.analyst)


@pytest.fixture
def quiet(store: Store) -> Event:
    """A second incident: closed, low, less risky, its last alert just now."""
    document = incident_document("quiet", stamp(timedelta()), severity=1, risk=10.0,
                                 state="closed")
    store.write_incidents([document])
    return document


def ids(page: dict[str, Any]) -> list[str]:
    return [incident["event"]["id"] for incident in page["data"]]


def test_lists_incidents_most_recent_first(client: TestClient, incident: Event,
                                           quiet: Event) -> None:
    page = client.get("/api/incidents").json()
    assert ids(page) == [quiet["event"]["id"], incident["event"]["id"]]
    assert page["count"] == 2 and page["cursor"] is None
    assert page["data"][1] == incident


@pytest.mark.parametrize(("params", "expected"), [
    ({"sort": "risk"}, ["attack", "quiet"]),
    ({"state": "closed", "min_severity": 2}, ["attack"]),
    ({"min_severity": 2}, ["attack"]),
    ({"status": "new"}, ["quiet", "attack"]),
    ({"status": "acknowledged"}, []),
    ({"from": MINUTE_AGO}, ["quiet"]),
    ({"to": MINUTE_AGO}, ["attack"]),
], ids=["risk", "state", "severity", "status-new", "status", "from", "to"])
def test_filters_and_sorts(client: TestClient, incident: Event, quiet: Event,
                           params: dict[str, Any], expected: list[str]) -> None:
    named = {"attack": incident["event"]["id"], "quiet": quiet["event"]["id"]}
    params = {key: stamp(timedelta(minutes=1)) if value == MINUTE_AGO else value
              for key, value in params.items()}
    assert ids(client.get("/api/incidents", params=params).json()) == [
        named[name] for name in expected]


@pytest.mark.parametrize("params", [{"sort": "title"}, {"state": "gone"}, {"min_severity": 0},
                                    {"size": 0}, {"status": "closed"}])
def test_bad_filters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/api/incidents", params=params).status_code == 422


def test_pages_with_cursor(client: TestClient, incident: Event, quiet: Event) -> None:
    first = client.get("/api/incidents", params={"size": 1}).json()
    second = client.get("/api/incidents", params={"size": 1, "cursor": first["cursor"]}).json()
    assert ids(first) + ids(second) == [quiet["event"]["id"], incident["event"]["id"]]
    assert second["cursor"] is None


def test_detail_has_the_timeline_and_the_alerts(client: TestClient, incident: Event,
                                                alerts: dict[str, Event]) -> None:
    body = client.get(f"/api/incidents/{incident['event']['id']}").json()
    assert body["incident"] == incident
    in_time = sorted(alerts.values(), key=lambda alert: alert["@timestamp"])
    assert body["alerts"] == in_time
    timeline = body["incident"]["incident"]["timeline"]
    assert [entry["alert_id"] for entry in timeline] == [a["event"]["id"] for a in in_time]
    assert {entry["stage"] for entry in timeline} == {"command"}


def test_unknown_incident_is_404(client: TestClient, analyst: TestClient) -> None:
    assert client.get("/api/incidents/nope").status_code == 404
    assert analyst.patch("/api/incidents/nope", json={"status": "acknowledged"}).status_code \
        == 404


def test_triage_changes_status_assignee_and_appends_comments(
        analyst: TestClient, client: TestClient, incident: Event) -> None:
    url = f"/api/incidents/{incident['event']['id']}"
    analyst.patch(url, json={"status": "in_progress", "assignee": "ana", "comment": "looking"})
    updated = analyst.patch(url, json={"assignee": None, "comment": "handed over"}).json()
    triage = updated["incident"]
    assert triage["status"] == "in_progress" and "assignee" not in triage
    assert [c["text"] for c in triage["comments"]] == ["looking", "handed over"]
    assert triage["comments"][0]["by"] == "token:analyst-automation"
    assert client.get(url).json()["incident"]["incident"]["status"] == "in_progress"
    listed = client.get("/api/incidents", params={"status": "in_progress"}).json()
    assert ids(listed) == [incident["event"]["id"]]


@pytest.mark.parametrize("body", [{}, {"status": "closed"}, {"state": "closed"},
                                  {"comment": ""}])
def test_bad_triage_is_422(analyst: TestClient, incident: Event, body: dict[str, Any]) -> None:
    assert analyst.patch(f"/api/incidents/{incident['event']['id']}", json=body).status_code \
        == 422


def test_triage_is_audited(analyst: TestClient, client: TestClient, incident: Event) -> None:
    incident_id = incident["event"]["id"]
    analyst.patch(f"/api/incidents/{incident_id}", json={"status": "acknowledged"})
    [entry] = client.get("/api/audit", params={"size": 1}).json()["data"]
    assert (entry["username"], entry["action"], entry["target"]) == (
        "token:analyst-automation", "incident.update", incident_id)
    assert '"status": "acknowledged"' in entry["detail"]
