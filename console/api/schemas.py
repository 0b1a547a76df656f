"""Response schemas of the API, one group per resource, so OpenAPI documents every answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from console.auth.roles import Role
from console.auth.users import MIN_PASSWORD_LENGTH, USERNAME

EXAMPLE_EVENT: dict[str, Any] = {
    "@timestamp": "2015-10-22T10:00:00.123456Z",
    "event": {"id": "5f1c0e9a7b2d4c6e8a0b1c2d", "kind": "event", "dataset": "modbus"},
    "observer": {"name": "tap1"},
    "source": {"ip": "10.0.0.1", "port": 49152},
    "destination": {"ip": "10.0.0.2", "port": 502},
    "network": {"transport": "tcp", "protocol": "modbus", "community_id": "1:..."},
    "modbus": {"transaction_id": 1, "unit_id": 1, "function_code": 3,
               "function_name": "read_holding_registers"},
    "pcap": {"frame": 12},
}


class EventMeta(BaseModel):
    """``event.*``: the fields every event carries, plus any others."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: Literal["event", "alert"]
    dataset: str


class EventPublic(BaseModel):
    """One stored event, as ECS-style nested JSON; protocol detail sits under its dataset."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": EXAMPLE_EVENT})

    timestamp: str = Field(alias="@timestamp", description="UTC, microseconds")
    event: EventMeta


class EventsPublic(BaseModel):
    """A page of events, newest first."""

    data: list[EventPublic]
    count: int = Field(description="all matches, not only this page")
    cursor: str | None = Field(description="pass back as `cursor` for the next page; "
                                           "null on the last page")


class BucketPublic(BaseModel):
    """One aggregation bucket: a time bucket's ISO start, or a field value."""

    key: str | int | float | bool | None
    count: int


class BucketsPublic(BaseModel):
    data: list[BucketPublic]


class HealthPublic(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorPublic(BaseModel):
    """Every error answer: a human-readable ``detail``."""

    detail: str


# --- auth ------------------------------------------------------------------------------------

class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MePublic(BaseModel):
    """The caller. ``csrf_token`` goes in ``X-CSRF-Token`` on every change made with the session
    cookie; null for API tokens, which need none."""

    username: str
    role: Role
    csrf_token: str | None


# --- alerts ----------------------------------------------------------------------------------

AlertStatus = Literal["new", "acknowledged", "in_progress", "closed_true_positive",
                      "closed_false_positive"]
Assignee = Field(default=None, min_length=1, max_length=64,
                 description="a username; null unassigns")


class AlertsPublic(BaseModel):
    """A page of alerts, newest first. Triage state is in ``alert.status`` (``new`` when absent),
    ``alert.assignee`` and ``alert.comments``."""

    data: list[EventPublic]
    count: int = Field(description="all matches, not only this page")
    cursor: str | None = Field(description="pass back as `cursor` for the next page")


class AlertDetailPublic(BaseModel):
    alert: EventPublic
    evidence: list[EventPublic] = Field(description="the stored events named by "
                                                    "`evidence.event_ids`")


class AlertPatch(BaseModel):
    """Triage one alert: fields left out stay as they are; a comment is appended."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    assignee: str | None = Assignee
    comment: str | None = Field(default=None, min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _changes_something(self) -> AlertPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of status, assignee, comment")
        return self


class AlertsBulk(BaseModel):
    """The same triage for many alerts."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=1, max_length=1000)
    status: AlertStatus | None = None
    assignee: str | None = Assignee

    @model_validator(mode="after")
    def _changes_something(self) -> AlertsBulk:
        if not self.model_fields_set - {"ids"}:
            raise ValueError("give status and/or assignee")
        return self


class BulkResultPublic(BaseModel):
    updated: int = Field(description="alerts found and changed")


# --- overview --------------------------------------------------------------------------------

ThreatLevel = Literal["low", "guarded", "elevated", "high", "severe"]


class OverviewPublic(BaseModel):
    """The situation at a glance, over the time range."""

    threat_level: ThreatLevel = Field(description="from the most severe open (not closed) alert: "
                                                  "none low, 1 guarded, 2 elevated, 3 high, "
                                                  "4 severe")
    alerts_by_severity: dict[Literal["1", "2", "3", "4"], int]
    alert_timeline: list[BucketPublic]
    top_rules: list[BucketPublic]
    top_sources: list[BucketPublic]
    top_destinations: list[BucketPublic]
    protocols: list[BucketPublic]
    events: int
    alerts: int


# --- users, tokens, audit --------------------------------------------------------------------

class UserPublic(BaseModel):
    username: str
    role: Role
    created_at: datetime


class UsersPublic(BaseModel):
    data: list[UserPublic]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME.pattern)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Role


class TokenPublic(BaseModel):
    id: str
    name: str
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class TokensPublic(BaseModel):
    data: list[TokenPublic]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"\S")   # not blank
    role: Role
    expires_days: float | None = Field(default=None, gt=0, le=3650)


class TokenCreatedPublic(TokenPublic):
    token: str = Field(description="the secret: shown this once, kept only as a hash")


class AuditEntryPublic(BaseModel):
    at: datetime
    username: str
    action: str
    target: str
    source_ip: str
    detail: str


class AuditPublic(BaseModel):
    data: list[AuditEntryPublic] = Field(description="newest first")


INVALID_RESPONSE: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorPublic, "description": "a parameter or the body is not valid; "
                                               "`detail` says which and why"},
}

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **INVALID_RESPONSE,
    401: {"model": ErrorPublic, "description": "no valid session or token"},
    403: {"model": ErrorPublic, "description": "the caller's role may not do this, or a session "
                                               "change lacks its X-CSRF-Token"},
}
