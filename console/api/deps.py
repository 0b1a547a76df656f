"""Dependencies of the routes, as ``Annotated`` aliases: ``def route(store: StoreDep)``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status

from liaowang.config import Settings
from pipelines.store.base import Store, TimeRange

_INTERVAL = re.compile(r"^(\d{1,9})([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    """The stored timestamp form: UTC, microseconds, ``Z``."""
    return None if moment is None else f"{_utc(moment):%Y-%m-%dT%H:%M:%S.%f}Z"


From = Annotated[datetime | None, Query(alias="from", description="ISO 8601, inclusive")]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601, exclusive")]


def get_time_range(start: From = None, end: To = None) -> TimeRange:
    if start is not None and end is not None and _utc(start) > _utc(end):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`from` is after `to`")
    return TimeRange(_iso(start), _iso(end))


def parse_interval(text: str) -> int | None:
    """Seconds in a bucket width like ``300``, ``30s``, ``5m``, ``1h``, ``1d``; None if invalid.

    >>> parse_interval("5m"), parse_interval("90"), parse_interval("0s"), parse_interval("soon")
    (300, 90, None, None)
    """
    match = _INTERVAL.match(text.strip())
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]] if match else 0
    return seconds or None


def get_interval(
    interval: Annotated[str, Query(description="bucket width: seconds, or 30s, 5m, 1h, 1d")] = "60",
) -> int:
    seconds = parse_interval(interval)
    if seconds is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "`interval` must be a positive number of seconds, or like 30s, 5m, 1h")
    return seconds


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TimeRangeDep = Annotated[TimeRange, Depends(get_time_range)]
IntervalDep = Annotated[int, Depends(get_interval)]
QueryDep = Annotated[str, Query(max_length=4096, description="Lucene query string; empty: all")]
