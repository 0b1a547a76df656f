"""Response actions through the API: performed on an alert with a reason, audited, listed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from console.auth.roles import Role
from pipelines.store.base import Event

ANALYST = "token:analyst-automation"    # how the audit names the analyst's API token


def act(client: TestClient, alert: Event, **body: object) -> dict:
    response = client.post(f"/api/alerts/{alert['event']['id']}/actions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_block_gives_firewall_rules_for_the_attacker(
        client_as: Callable[[Role], TestClient], alerts: dict[str, Event]) -> None:
    analyst = client_as(Role.analyst)
    record = act(analyst, alerts["write"], kind="block", reason="PLC writes from outside")
    address = alerts["write"]["source"]["ip"]
    assert (record["kind"], record["status"], record["dry_run"]) == ("block", "dry_run", True)
    assert (record["actor"], record["reason"]) == (ANALYST, "PLC writes from outside")
    assert record["target"] == {"side": "source", "ip": address}
    assert set(record["artefacts"]) == {"nftables", "iptables", "cisco_ios", "huawei_vrp"}
    assert f"iptables -I FORWARD -s {address} -j DROP" in record["artefacts"]["iptables"]
    assert f"deny ip host {address} any" in record["artefacts"]["cisco_ios"]


def test_without_automation_an_action_is_generated_for_manual_use(
        client: TestClient, alerts: dict[str, Event]) -> None:
    record = act(client, alerts["write"], kind="quarantine", reason="isolate the PLC",
                 dry_run=False, target="destination")
    assert record["status"] == "generated"
    assert record["payload"]["asset"]["ip"] == alerts["write"]["destination"]["ip"]


def test_every_action_is_audited_with_its_reason(client_as: Callable[[Role], TestClient],
                                                 alerts: dict[str, Event]) -> None:
    record = act(client_as(Role.analyst), alerts["write"], kind="block", reason="audit me")
    entries = client_as(Role.admin).get("/api/audit").json()["data"]
    [entry] = [e for e in entries if e["action"] == "action.block"]
    assert (entry["username"], entry["target"]) == (ANALYST, alerts["write"]["event"]["id"])
    assert entry["source_ip"] == "testclient"
    assert '"reason": "audit me"' in entry["detail"] and record["id"] in entry["detail"]


def test_actions_are_listed_newest_first_and_by_alert(
        client: TestClient, alerts: dict[str, Event]) -> None:
    first = act(client, alerts["write"], kind="block", reason="first")
    second = act(client, alerts["exception"], kind="block", reason="second")
    listed = client.get("/api/actions").json()
    assert [r["id"] for r in listed["data"]] == [second["id"], first["id"]]
    assert listed["count"] == 2
    only = client.get("/api/actions", params={"alert_id": alerts["write"]["event"]["id"]})
    assert [r["id"] for r in only.json()["data"]] == [first["id"]]


def test_isolate_refuses_an_industrial_alert(client: TestClient,
                                             alerts: dict[str, Event]) -> None:
    response = client.post(f"/api/alerts/{alerts['write']['event']['id']}/actions",
                           json={"kind": "isolate", "reason": "try"})
    assert response.status_code == 409
    assert "5G-core" in response.json()["detail"]
    assert client.get("/api/actions").json()["count"] == 0


def test_bad_requests_say_what_is_wrong(client: TestClient, alerts: dict[str, Event]) -> None:
    url = f"/api/alerts/{alerts['write']['event']['id']}/actions"
    unknown = client.post(url, json={"kind": "reboot", "reason": "why not"})
    assert unknown.status_code == 422 and "body.kind" in unknown.json()["detail"]
    silent = client.post(url, json={"kind": "block"})
    assert silent.status_code == 422 and "body.reason" in silent.json()["detail"]
    missing = client.post("/api/alerts/nope/actions", json={"kind": "block", "reason": "x" * 3})
    assert missing.status_code == 404


def test_an_incident_action_takes_its_most_severe_alert(
        client: TestClient, incident: Event, alerts: dict[str, Event]) -> None:
    incident_id = incident["event"]["id"]
    url = f"/api/incidents/{incident_id}/actions"
    record = client.post(url, json={"kind": "block", "reason": "contain the incident"}).json()
    grouped = [a for a in alerts.values() if a["event"]["id"] in incident["incident"]["alert_ids"]]
    worst = max(grouped, key=lambda a: (a["event"]["severity"], a["@timestamp"]))
    assert (record["incident_id"], record["alert_id"]) == (incident_id, worst["event"]["id"])
    chosen = client.post(url, json={"kind": "block", "reason": "that one",
                                    "alert_id": alerts["write"]["event"]["id"]}).json()
    assert chosen["alert_id"] == alerts["write"]["event"]["id"]
    stranger = client.post(url, json={"kind": "block", "reason": "not this", "alert_id": "nope"})
    assert stranger.status_code == 404
    assert client.post("/api/incidents/nope/actions",
                       json={"kind": "block", "reason": "not this"}).status_code == 404
