"""Alerts for the API tests: a few made beside the fixture events, and the real alerts the
shipped Sigma rules raise on public Modbus captures."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from detection.incidents import IncidentCorrelator
from detection.sigma import SigmaDetector
from liaowang.events import event_id
from liaowang.schema import validate
from pipelines.store.base import Event, Store
from tests.console.conftest import stamp
from tests.utils.pcaps import PCAPS, captures_with, run_sensor

REAL_CAPTURES = ("tests__modbus__modbus.pcap", "pcaps__ModbusTCP__modbus_test_data_part2.pcap")
ATTACKER = "198.51.100.7"
MODBUS_CAPTURE = PCAPS / "OISF__suricata-verify" / "tests__modbus__modbus.pcap"


def make_alert(name: str, ago: timedelta, severity: int, evidence: list[Event],
               source_ip: str = ATTACKER, **triage: Any) -> Event:
    """An alert on the last of ``evidence``, as detection makes them: that event's fields, the
    rule's, and the evidence."""
    timestamp = stamp(ago)
    last = evidence[-1]
    alert: Event = copy.deepcopy(last) | {
        "@timestamp": timestamp,
        "event": last["event"] | {"id": event_id("alert", name, timestamp), "kind": "alert",
                                  "severity": severity, "risk_score": 25.0 * severity},
        "source": last["source"] | {"ip": source_ip},
        "rule": {"id": f"rule-{name}", "name": f"Rule {name}"},
        "threat": {"framework": "MITRE ATT&CK for ICS", "technique": {"id": ["T0836"]}},
        "evidence": {"event_ids": [e["event"]["id"] for e in evidence],
                     "frames": [e["pcap"]["frame"] for e in evidence]},
    }
    if triage:
        alert["alert"] = triage
    return alert


@pytest.fixture
def alerts(store: Store, events: dict[str, Event]) -> dict[str, Event]:
    """Four alerts by name, stored: severities 1-4, one closed, one acknowledged."""
    minute = timedelta(minutes=1)
    made = {
        "write": make_alert("write", 2 * minute, 3, [events["write_request"]]) |
        {"log": {"file": {"path": str(MODBUS_CAPTURE)}}},   # its packets can be exported
        "exception": make_alert("exception", 3 * minute, 2,
                                [events["exception"], events["write_request"]]),
        "closed_critical": make_alert("closed_critical", 4 * minute, 4, [events["read_request"]],
                                      status="closed_false_positive"),
        "acknowledged": make_alert("acknowledged", 10 * minute, 1, [events["flow"]],
                                   source_ip="192.0.2.9", status="acknowledged",
                                   assignee="analyst"),
    }
    for name, alert in made.items():
        assert validate(alert) == [], name
    store.write(list(made.values()))
    return made


@pytest.fixture(scope="session")
def real_events() -> list[Event]:
    """Events and alerts of real Modbus captures, through the sensor and the shipped rules."""
    found = {path.name: path for path in captures_with("modbus")}
    assert set(REAL_CAPTURES) <= set(found), "the shared Modbus captures are missing"
    detector = SigmaDetector.load()
    events: list[Event] = []
    for name in REAL_CAPTURES:
        captured = run_sensor(found[name])
        events += captured + detector.process(captured)
    return events


@pytest.fixture
def real_alerts(store: Store, real_events: list[Event]) -> list[Event]:
    store.write(real_events)
    return [event for event in real_events if event["event"]["kind"] == "alert"]



@pytest.fixture
def incident(store: Store, alerts: dict[str, Event]) -> Event:
    """The incident the correlator makes of the stored alerts (they share the PLC), stored."""
    correlator = IncidentCorrelator()
    correlator.process(sorted(alerts.values(), key=lambda alert: alert["@timestamp"]))
    [document] = correlator.finish()
    assert validate(document) == []
    store.write_incidents([document])
    return document
