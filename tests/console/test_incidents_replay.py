"""End to end: a replayed Modbus attack (identify, write, force listen-only between the same two
hosts) becomes one incident with its stages and timeline, in ``--jsonl``, in the store and in the
API; a second replay rewrites it, keeping its triage."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from console.auth.roles import Role
from pipelines.store.base import Event
from pipelines.store.sqlite import SQLiteStore
from tests.utils.modbus_attack import ATTACKER, PLC, write_attack

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
RULES = ["Modbus device identification request", "Modbus write of multiple coils or registers",
         "Modbus diagnostics: force listen-only mode"]


def replay(tmp_path: Path, capture: Path, store: SQLiteStore) -> list[Event]:
    """Run ``liaowang replay`` into ``store``; returns what it wrote to ``--jsonl``."""
    config = tmp_path / "liaowang.yml"
    config.write_text(f"pipelines:\n  spool: {{path: {tmp_path / 'spool'}}}\n")
    jsonl = tmp_path / "out.jsonl"
    jsonl.unlink(missing_ok=True)
    done = subprocess.run([LIAOWANG, "replay", str(capture), "--store", f"sqlite:///{store.path}",
                           "--jsonl", str(jsonl), "--config", str(config)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in jsonl.read_bytes().splitlines()]


def latest_incidents(lines: list[Event]) -> dict[str, Event]:
    """The last version of each incident printed (each line is a whole, current version)."""
    return {line["event"]["id"]: line for line in lines if line["event"]["kind"] == "signal"}


def test_a_replayed_attack_is_one_incident_stored_and_served(
        tmp_path: Path, store: SQLiteStore,
        client_as: Callable[[Role], TestClient]) -> None:
    capture = write_attack(tmp_path / "attack.pcap")
    lines = replay(tmp_path, capture, store)
    alerts = [line for line in lines if line["event"]["kind"] == "alert"]
    assert [alert["rule"]["name"] for alert in alerts] == RULES

    [incident] = latest_incidents(lines).values()
    body = incident["incident"]
    assert body["stages"] == ["discovery", "command", "impact"]
    assert incident["event"]["severity"] == 4 and body["state"] == "closed"
    assert body["title"] == f"Discovery → command → impact on {PLC}"
    assert body["assets"]["ip"] == [ATTACKER, PLC]
    assert [(entry["rule"], entry["stage"]) for entry in body["timeline"]] == list(
        zip(RULES, ["discovery", "command", "impact"], strict=True))
    assert body["alert_ids"] == [alert["event"]["id"] for alert in alerts]

    incident_id = incident["event"]["id"]
    assert store.get_incident(incident_id) == incident
    viewer, analyst = client_as(Role.viewer), client_as(Role.analyst)
    assert viewer.get("/api/incidents").json()["data"] == [incident]
    detail = viewer.get(f"/api/incidents/{incident_id}").json()
    assert [alert["event"]["id"] for alert in detail["alerts"]] == body["alert_ids"]

    analyst.patch(f"/api/incidents/{incident_id}", json={"status": "in_progress",
                                                         "assignee": "ana"})
    again = latest_incidents(replay(tmp_path, capture, store))
    assert list(again) == [incident_id]          # the same id: no copy
    listed = viewer.get("/api/incidents").json()
    assert listed["count"] == 1
    stored = listed["data"][0]["incident"]
    assert (stored["status"], stored["assignee"], stored["alert_count"]) == ("in_progress", "ana",
                                                                            3)
