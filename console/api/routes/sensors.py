"""``/api/sensors``: heartbeats from sensors (``sensor`` tokens) and the list people see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from console.api.deps import AccountsDep, SensorDep, SettingsDep, ViewerDep, client_ip
from console.api.schemas import AUTH_RESPONSES
from console.sensors import Heartbeat, SensorRegistry, SensorState

router = APIRouter(prefix="/api/sensors", tags=["sensors"], responses=AUTH_RESPONSES)

Count = Annotated[int, Field(ge=0)]


class HeartbeatIn(BaseModel):
    """A sensor's state: counters since it started."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    version: Annotated[str, Field(max_length=100)]
    packets: Count = 0
    drops: Count = 0
    events: Count = 0
    lag: Annotated[float, Field(ge=0, description="seconds behind the wire")] = 0.0
    started: datetime


class SensorPublic(BaseModel):
    name: str
    version: str
    packets: int
    drops: int
    events: int
    lag: float
    started: str
    last_seen: datetime
    stale: bool = Field(description="no heartbeat within console.sensor_stale_s")
    token: str
    source_ip: str


class SensorsPublic(BaseModel):
    data: list[SensorPublic]
    count: int


def sensor_registry(request: Request, accounts: AccountsDep) -> SensorRegistry:
    state = request.app.state
    if getattr(state, "sensors", None) is None:
        state.sensors = SensorRegistry(accounts.db)
    registry: SensorRegistry = state.sensors
    return registry


@router.post("/heartbeat", status_code=status.HTTP_204_NO_CONTENT)
def heartbeat(caller: SensorDep, request: Request, accounts: AccountsDep,
              beat: HeartbeatIn) -> Response:
    """Record the sensor's state; its last-seen time is now."""
    started = beat.started.astimezone(UTC) if beat.started.tzinfo else \
        beat.started.replace(tzinfo=UTC)
    sensor_registry(request, accounts).beat(
        Heartbeat(beat.name, beat.version, beat.packets, beat.drops, beat.events, beat.lag,
                  f"{started:%Y-%m-%dT%H:%M:%S.%f}Z"),
        token=caller.username, source_ip=client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=SensorsPublic)
def list_sensors(_: ViewerDep, request: Request, accounts: AccountsDep,
                 settings: SettingsDep) -> SensorsPublic:
    """Every sensor that has sent a heartbeat, by name."""
    registry = sensor_registry(request, accounts)
    now = registry.clock()
    data = [_public(s, now, settings.console.sensor_stale_s) for s in registry.list()]
    return SensorsPublic(data=data, count=len(data))


def _public(sensor: SensorState, now: float, stale_s: float) -> SensorPublic:
    return SensorPublic(name=sensor.name, version=sensor.version, packets=sensor.packets,
                        drops=sensor.drops, events=sensor.events, lag=sensor.lag_s,
                        started=sensor.started,
                        last_seen=datetime.fromtimestamp(sensor.last_seen, UTC),
                        stale=sensor.is_stale(now, stale_s), token=sensor.token,
                        source_ip=sensor.source_ip)
