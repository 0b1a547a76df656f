"""``/api/overview``: the situation at a glance over a time range."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from console.api.deps import StoreDep, TimeRangeDep, ViewerDep
from console.api.schemas import AUTH_RESPONSES, BucketPublic, ErrorPublic, OverviewPublic
from liaowang.events import parse_timestamp
from pipelines.store.base import Bucket, Store, TimeRange

router = APIRouter(prefix="/api/overview", tags=["overview"], responses={
    **AUTH_RESPONSES, 400: {"model": ErrorPublic, "description": "a time the store cannot use"},
    503: {"model": ErrorPublic, "description": "the store cannot answer"}})

ALERTS = "event.kind:alert"
OPEN_ALERTS = "event.kind:alert AND NOT alert.status:closed*"
THREAT_LEVELS = ("low", "guarded", "elevated", "high", "severe")
SEVERITIES = ("1", "2", "3", "4")
TOP = 10
TIMELINE_BUCKETS = 60
DEFAULT_SPAN_S = 86_400
_NICE_INTERVALS_S = (60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400,
                     7 * 86_400)


@router.get("", response_model=OverviewPublic)
def overview(_: ViewerDep, store: StoreDep, when: TimeRangeDep) -> OverviewPublic:
    """Threat level, alerts by severity and over time, top rules, sources and destinations of
    alerts, the protocol mix of all events, and the counts of events and alerts."""
    def top(field: str, query: str = ALERTS) -> list[BucketPublic]:
        return _public(store.terms(field, query, when, size=TOP))

    by_severity = _by_severity(store.terms("event.severity", ALERTS, when, size=10))
    alerts = store.search(ALERTS, when, size=1).count
    return OverviewPublic(
        threat_level=threat_level(store, when),
        alerts_by_severity=by_severity,
        alert_timeline=_public(store.histogram(ALERTS, when, timeline_interval_s(when))),
        top_rules=top("rule.name"),
        top_sources=top("source.ip"),
        top_destinations=top("destination.ip"),
        protocols=top("network.protocol", ""),
        events=store.search("event.kind:event", when, size=1).count,
        alerts=alerts,
    )


def threat_level(store: Store, when: TimeRange) -> str:
    """From the most severe alert not yet closed: none is ``low``, severity 4 is ``severe``."""
    severities = [b.key for b in store.terms("event.severity", OPEN_ALERTS, when, size=10)
                  if isinstance(b.key, int) and 1 <= b.key <= 4]
    return THREAT_LEVELS[max(severities, default=0)]


def timeline_interval_s(when: TimeRange) -> int:
    """A round bucket width giving about 60 buckets over the range (a day when it is open).

    >>> timeline_interval_s(TimeRange("2015-10-22T00:00:00Z", "2015-10-22T01:00:00Z"))
    60
    >>> timeline_interval_s(TimeRange("2015-10-22T00:00:00Z", "2015-10-23T00:00:00Z"))
    1800
    """
    span_s = DEFAULT_SPAN_S
    if when.start:
        end_us = parse_timestamp(when.end) if when.end else _now_us()
        span_s = max((end_us - parse_timestamp(when.start)) // 1_000_000, 1)
    wanted = span_s / TIMELINE_BUCKETS
    return next((s for s in _NICE_INTERVALS_S if s >= wanted), _NICE_INTERVALS_S[-1])


def _by_severity(buckets: list[Bucket]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for bucket in buckets:
        if str(bucket.key) in counts:
            counts[str(bucket.key)] = bucket.count
    return counts


def _public(buckets: list[Bucket]) -> list[BucketPublic]:
    return [BucketPublic(key=b.key, count=b.count) for b in buckets]


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)
