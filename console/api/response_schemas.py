"""Schemas of the response actions and webhooks API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ActionRequest(BaseModel):
    """An action on an alert: ``target`` is the endpoint it is aimed at; ``dry_run`` (the
    default) records what would be done without doing it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["block", "isolate", "quarantine"]
    reason: str = Field(min_length=3, max_length=1000)
    dry_run: bool = True
    target: Literal["source", "destination"] = "source"


class IncidentActionRequest(ActionRequest):
    """An action on one alert of an incident: ``alert_id`` (one of the incident's alerts), or,
    without it, the incident's most severe alert, the latest among equals."""

    alert_id: str | None = Field(default=None, max_length=128)


class ActionPublic(BaseModel):
    """An action record: who did what to what, when, from where and why, and what came of it.
    ``status``: ``dry_run``, ``generated`` (artefacts to apply by hand), ``sent`` or
    ``failed`` (the automation's answer, in ``detail``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    at: str
    kind: str
    alert_id: str | None
    incident_id: str | None = None
    reason: str
    actor: str
    origin: str
    dry_run: bool
    status: Literal["dry_run", "generated", "sent", "failed"]
    detail: str
    target: dict[str, Any]
    payload: dict[str, Any]
    artefacts: dict[str, str]


class ActionsPublic(BaseModel):
    data: list[ActionPublic] = Field(description="newest first")
    count: int


class WebhookPublic(BaseModel):
    """A configured webhook target and its delivery counts (from its ledger and queue)."""

    name: str
    url: str
    format: str
    min_severity: int
    delivered: int = Field(description="messages delivered (latest 30 days)")
    pending: int = Field(description="alerts queued and not yet delivered or dead")
    dead: int = Field(description="dead letters waiting for a replay")


class WebhooksPublic(BaseModel):
    data: list[WebhookPublic]


class DeliveryPublic(BaseModel):
    webhook: str
    key: str
    status: Literal["delivered", "dead", "replayed"]
    alert_ids: list[str]
    attempts: int
    queued_at: float
    at: float
    detail: str


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic] = Field(description="newest first")


class ReplayedPublic(BaseModel):
    replayed: int = Field(description="alerts queued again")
