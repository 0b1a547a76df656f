"""Response and request schemas of ``/api/incidents`` (documents of ``detection.incidents``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from console.api.schemas import AlertPatch, EventPublic

EXAMPLE_INCIDENT: dict[str, Any] = {
    "@timestamp": "2023-11-14T22:14:20.000000Z",
    "event": {"id": "8c1d5f0e2b7a4c9d1e3f5a7b", "kind": "signal", "dataset": "incident",
              "severity": 4, "risk_score": 73.0, "start": "2023-11-14T22:13:40.000000Z",
              "end": "2023-11-14T22:14:20.000000Z"},
    "observer": {"name": "tap1"},
    "incident": {
        "title": "Discovery → command → impact on 10.20.1.10", "state": "open",
        "stages": ["discovery", "command", "impact"], "alert_count": 3,
        "alert_ids": ["e50b099b1461fb9548dc26fd"], "rules": ["Modbus device identification"],
        "timeline": [{"at": "2023-11-14T22:13:40.000000Z", "alert_id": "e50b099b1461fb9548dc26fd",
                      "rule": "Modbus device identification request", "stage": "discovery",
                      "severity": 1, "text": "Modbus device identification request: "
                                             "10.20.0.66 → 10.20.1.10"}],
        "assets": {"ip": ["10.20.0.66", "10.20.1.10"]},
    },
}

IncidentSort = Literal["last_seen", "risk"]
IncidentState = Literal["open", "closed"]


class IncidentMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    kind: Literal["signal"]
    dataset: Literal["incident"]


class IncidentPublic(BaseModel):
    """One incident. ``incident.state`` is the correlator's (open while alerts may still join);
    triage is ``incident.status`` (``new`` when absent), ``incident.assignee`` and
    ``incident.comments``."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": EXAMPLE_INCIDENT})

    timestamp: str = Field(alias="@timestamp", description="the last alert's time")
    event: IncidentMeta
    incident: dict[str, Any]


class IncidentsPublic(BaseModel):
    data: list[IncidentPublic]
    count: int = Field(description="all matches, not only this page")
    cursor: str | None = Field(description="pass back as `cursor` for the next page")


class IncidentDetailPublic(BaseModel):
    incident: IncidentPublic
    alerts: list[EventPublic] = Field(description="the stored alerts of "
                                                  "`incident.alert_ids`, oldest first")


class IncidentPatch(AlertPatch):
    """Triage one incident: fields left out stay as they are; a comment is appended."""
