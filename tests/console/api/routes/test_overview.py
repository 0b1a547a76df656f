"""``/api/overview``: the situation at a glance, computed by the store."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from pipelines.store.base import Event, Store
from tests.console.api.conftest import ATTACKER
from tests.console.conftest import stamp


def test_overview_of_the_last_hour(client: TestClient, alerts: dict[str, Event]) -> None:
    body = client.get("/api/overview", params={"from": stamp(timedelta(hours=1))}).json()
    # The critical alert is closed, so the most severe open one (3) sets the level.
    assert body["threat_level"] == "high"
    assert body["alerts_by_severity"] == {"1": 1, "2": 1, "3": 1, "4": 1}
    assert body["alerts"] == 4
    assert body["events"] == 6  # the seventh event is two days old
    assert sum(bucket["count"] for bucket in body["alert_timeline"]) == 4
    assert body["top_sources"] == [{"key": ATTACKER, "count": 3}, {"key": "192.0.2.9",
                                                                    "count": 1}]
    assert body["top_destinations"] == [{"key": "10.0.0.2", "count": 4}]
    assert len(body["top_rules"]) == 4
    assert body["protocols"][0] == {"key": "modbus", "count": 7}


def test_threat_level_follows_open_alerts(client: TestClient, store: Store,
                                          alerts: dict[str, Event]) -> None:
    critical = alerts["closed_critical"]["event"]["id"]
    store.update_alert(critical, {"alert": {"status": "in_progress"}})
    assert client.get("/api/overview").json()["threat_level"] == "severe"
    client.post("/api/alerts/bulk", json={"ids": [a["event"]["id"] for a in alerts.values()],
                                          "status": "closed_true_positive"})
    assert client.get("/api/overview").json()["threat_level"] == "low"


def test_overview_without_alerts(client: TestClient) -> None:
    body = client.get("/api/overview").json()
    assert body["threat_level"] == "low"
    assert body["alerts_by_severity"] == {"1": 0, "2": 0, "3": 0, "4": 0}
    assert body["alerts"] == 0 and body["events"] == 7
    assert body["alert_timeline"] == [] and body["top_rules"] == []
