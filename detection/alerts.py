"""Alert events of the anomaly side: baseline violations and anomalous windows.

Both say what was expected and what was seen: ``event.reason`` in words, and fields for tools —
``baseline.expected`` / ``baseline.observed`` for a violation, ``anomaly.features.*`` (parallel
arrays: name, observed, expected, deviation) for a window.
"""

from __future__ import annotations

import copy
from typing import Any

from detection.baseline import Violation
from detection.features import Window
from detection.operations import Event
from liaowang.events import capture_of, event_id, get_field, iso_timestamp, new_event

ICS = frozenset({"modbus", "dnp3", "s7comm", "iec104", "enip", "opcua", "bacnet"})

# kind → (rule id, rule name, severity, ATT&CK for ICS technique or None)
VIOLATIONS: dict[str, tuple[str, str, int, str | None]] = {
    "new_pair": ("liaowang-baseline-new-pair", "Hosts never seen talking", 3, None),
    "new_operation": ("liaowang-baseline-new-operation", "Operation never seen on this pair", 3,
                      "T0855"),
    "write_outside_range": ("liaowang-baseline-write-outside-range",
                            "Write outside the learned address ranges", 4, "T0836"),
    "value_outside_range": ("liaowang-baseline-value-outside-range",
                            "Value written outside its learned range", 4, "T0836"),
}
ANOMALY_RULE = ("liaowang-anomaly-window", "Traffic of a pair unlike its learned behaviour")
ANOMALY_SEVERITY = 2


def violation_alert(event: Event, violation: Violation) -> Event:
    rule_id, name, severity, technique = VIOLATIONS[violation.kind]
    ts = event["@timestamp"]
    alert = _skeleton(event["event"]["dataset"], ts, get_field(event, "observer.name"))
    alert["event"] |= {"id": event_id(rule_id, violation.reason, ts), "severity": severity,
                       "reason": violation.reason}
    alert["event"] |= {k: v for k in ("start", "end") if (v := event["event"].get(k))}
    alert["rule"] = {"id": rule_id, "name": name, "ruleset": "baseline"}
    alert["baseline"] = {"violation": violation.kind, "expected": violation.expected,
                         "observed": violation.observed}
    _copy_detail(alert, event)
    _evidence(alert, [get_field(event, "event.id")],
              [(get_field(event, "pcap.frame"), capture_of(event))])
    _threat(alert, technique)
    return alert


def anomaly_alert(window: Window, score: float, threshold: float,
                  explanation: dict[str, list[Any]], model: str) -> Event:
    client, server = window.pair.split(" -> ")
    ts = iso_timestamp(window.end_us)
    alert = _skeleton(window.dataset, ts, window.observer)
    rule_id, name = ANOMALY_RULE
    alert["event"] |= {"id": event_id(rule_id, window.pair, window.dataset, window.start_us),
                       "severity": ANOMALY_SEVERITY,
                       "start": iso_timestamp(window.start_us), "end": ts,
                       "reason": _window_reason(window, score, threshold, explanation)}
    alert["rule"] = {"id": rule_id, "name": name, "ruleset": "anomaly"}
    if window.last_event is not None:
        _copy_detail(alert, window.last_event)
    alert["source"], alert["destination"] = {"ip": client}, {"ip": server}
    alert["anomaly"] = {"score": round(score, 6), "threshold": round(threshold, 6),
                        "model": model, "features": explanation}
    _evidence(alert, window.evidence_ids, window.evidence_frames)
    return alert


def _copy_detail(alert: Event, event: Event) -> None:
    """The event's endpoints, network and protocol fields (an alert is of the dataset of the
    event behind it, so it carries what that dataset requires)."""
    for key, value in event.items():
        if key not in ("@timestamp", "event", "observer"):
            alert[key] = copy.deepcopy(value)


def _skeleton(dataset: str, timestamp: str, observer: str | None) -> Event:
    alert = new_event(dataset, 0, observer or "liaowang", kind="alert")
    alert["@timestamp"] = timestamp
    return alert


def _window_reason(window: Window, score: float, threshold: float,
                   explanation: dict[str, list[Any]]) -> str:
    parts = [f"{name} {observed:g} (learned {expected:g})" for name, observed, expected in zip(
        explanation["name"], explanation["observed"], explanation["expected"], strict=True)]
    return (f"{window.pair} {window.dataset}: anomaly score {score:.3f} above {threshold:.3f}; "
            + ", ".join(parts))


def _evidence(alert: Event, ids: list[Any], frames: list[tuple[Any, str | None]]) -> None:
    """The ids of the events behind the alert, and their frames (with the capture each counts
    in) that are in the alert's own capture, which the packet export reads."""
    evidence: dict[str, Any] = {}
    if known_ids := [i for i in ids if i is not None]:
        evidence["event_ids"] = known_ids
    capture = capture_of(alert)
    if known_frames := [f for f, at in frames if f is not None and at == capture]:
        evidence["frames"] = known_frames
    if evidence:
        alert["evidence"] = evidence


def _threat(alert: Event, technique: str | None) -> None:
    if technique is not None and alert["event"]["dataset"] in ICS:
        alert["threat"] = {"framework": "MITRE ATT&CK for ICS",
                           "technique": {"id": [technique]}}
