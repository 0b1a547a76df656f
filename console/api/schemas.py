"""Response schemas of the API, one group per resource, so OpenAPI documents every answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
