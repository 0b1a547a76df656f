"""Builders of incident documents for tests, made by the correlator's own code."""

from __future__ import annotations

from typing import Any

from detection.incidents import Incident, to_document
from liaowang.events import event_id, parse_timestamp

Event = dict[str, Any]


def incident_document(name: str, last: str, *, severity: int = 2, risk: float = 47.0,
                      stages: tuple[str, ...] = ("discovery",), state: str = "open",
                      ips: tuple[str, ...] = ("10.0.0.9", "10.0.0.2")) -> Event:
    """An incident named ``name`` whose last alert was at ``last`` (ISO time), one alert per
    stage, a minute apart before it."""
    last_us = parse_timestamp(last)
    incident = Incident(id=event_id("incident", name), observer="tap1",
                        first_us=last_us - 60_000_000 * (len(stages) - 1), last_us=last_us,
                        base_severity=severity, risk_score=risk, stages=list(stages),
                        ips=dict.fromkeys(ips), state=state)
    incident.targets[ips[-1]] += 1
    for number, stage in enumerate(stages):
        alert_id = event_id("alert", name, number)
        incident.alert_ids.append(alert_id)
        incident.timeline.append({"at": last, "alert_id": alert_id, "rule": f"rule {stage}",
                                  "stage": stage, "severity": severity,
                                  "text": f"rule {stage}: {' → '.join(ips)}"})
    incident.alert_count = len(stages)
    document = to_document(incident)
    document["event"]["severity"] = severity   # as given, not escalated: filters test it
    return document
