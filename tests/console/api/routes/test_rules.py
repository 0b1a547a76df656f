"""``/api/rules``: the rule list with alert counts, and switches that detection follows."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.auth.roles import Role
from console.cli_reload import signature_detector
from detection.sigma.loader import SHIPPED_RULES, load_pack
from detection.sigma.reload import ReloadingDetector
from pipelines.store.base import Event, Store
from tests.console.api.conftest import make_alert

S7_STOP = "c4f69ec5-e730-5378-8b1c-75ba789ae311"      # S7comm PLC stop request
STOP_EVENT: Event = {
    "@timestamp": "2026-01-01T00:00:00.000000Z", "observer": {"name": "tap"},
    "event": {"kind": "event", "dataset": "s7comm", "id": "stop-1"},
    "source": {"ip": "10.0.0.66", "port": 40000}, "destination": {"ip": "10.0.0.1", "port": 102},
    "s7comm": {"protocol": "s7comm", "rosctr": 1, "function": 41},
}


def rule_alert(rule_id: str, ago: timedelta, evidence: Event, name: str) -> Event:
    alert = make_alert(name, ago, 4, [evidence])
    alert["rule"] = {"id": rule_id, "name": name}
    return alert


def by_id(client: TestClient) -> dict[str, dict]:
    answer = client.get("/api/rules")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["data"])
    return {rule["id"]: rule for rule in body["data"]}


def test_every_loaded_rule_is_listed_with_its_alerts_of_the_last_day(
        client_as: Callable[[Role], TestClient], store: Store, events: dict[str, Event]) -> None:
    store.write([rule_alert(S7_STOP, timedelta(hours=1), events["write_request"], "a"),
                 rule_alert(S7_STOP, timedelta(hours=23), events["write_request"], "b"),
                 rule_alert(S7_STOP, timedelta(hours=25), events["write_request"], "old")])
    rules = by_id(client_as(Role.viewer))
    pack = load_pack([SHIPPED_RULES])
    assert len(rules) == len(pack.rules) + len(pack.correlations)
    stop = rules[S7_STOP]
    assert stop == stop | {"title": "S7comm PLC stop request", "level": "critical",
                           "dataset": "s7comm", "correlation": False, "enabled": True,
                           "alerts_24h": 2}
    assert "T0881" in stop["techniques"] and "attack.t0881" in stop["tags"]
    assert sum(rule["alerts_24h"] for rule in rules.values()) == 2
    assert any(rule["correlation"] for rule in rules.values())


def test_a_switched_off_rule_stops_alerting_in_a_running_detector(
        client: TestClient, app: FastAPI) -> None:
    settings = app.state.settings
    detector = signature_detector(argparse.Namespace(config=None), settings)
    assert stop_alerts(detector) == 1

    answer = client.patch(f"/api/rules/{S7_STOP}", json={"enabled": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["enabled"] is False
    assert by_id(client)[S7_STOP]["enabled"] is False
    assert "enabled: false" in Path(settings.detection.overrides_file).read_text()
    time.sleep(1.1)   # the detector looks at the switches file once a second
    assert stop_alerts(detector) == 0
    assert detector.reloads == 1

    assert client.patch(f"/api/rules/{S7_STOP}", json={"enabled": True}).json()["enabled"]
    time.sleep(1.1)
    assert stop_alerts(detector) == 1
    audit = client.get("/api/audit", params={"size": 2}).json()["data"]
    assert [(e["username"], e["action"], e["target"]) for e in audit] == [
        ("token:admin-automation", "rule.enable", S7_STOP),
        ("token:admin-automation", "rule.disable", S7_STOP)]


def stop_alerts(detector: ReloadingDetector) -> int:
    stamp = f"2026-01-01T00:{time.time_ns() % 60:02d}:00.000000Z"  # new each time: no suppression
    event = STOP_EVENT | {"@timestamp": stamp}
    return sum(alert["rule"]["id"] == S7_STOP for _, alert in detector.place([event]))


def test_unknown_rule_and_bad_body_are_refused(client: TestClient) -> None:
    answer = client.patch("/api/rules/no-such-rule", json={"enabled": False})
    assert answer.status_code == 404 and answer.json()["detail"] == "no rule with this id"
    answer = client.patch(f"/api/rules/{S7_STOP}", json={"enabled": "perhaps"})
    assert answer.status_code == 422 and "enabled" in answer.json()["detail"]


def test_a_broken_switches_file_is_reported_not_overwritten(client: TestClient,
                                                            app: FastAPI) -> None:
    path = Path(app.state.settings.detection.overrides_file)
    path.write_text("rules: {x: {enabled: maybe}}\n")
    answer = client.get("/api/rules")
    assert answer.status_code == 503
    assert str(path) in answer.json()["detail"] and "enabled" in answer.json()["detail"]
    assert client.patch(f"/api/rules/{S7_STOP}", json={"enabled": False}).status_code == 503
    assert path.read_text() == "rules: {x: {enabled: maybe}}\n"
