"""``/api/events``: search, aggregate and fetch stored events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from console.api.deps import IntervalDep, QueryDep, StoreDep, TimeRangeDep, require_analyst
from console.api.schemas import (
    AUTH_RESPONSES,
    BucketPublic,
    BucketsPublic,
    ErrorPublic,
    EventPublic,
    EventsPublic,
)
from pipelines.store.base import Bucket

# Hunting through raw events is an analyst's work; viewers see the overview and the alerts.
router = APIRouter(
    prefix="/api/events",
    tags=["events"],
    dependencies=[Depends(require_analyst)],
    responses={**AUTH_RESPONSES,
               400: {"model": ErrorPublic, "description": "the query does not parse"},
               503: {"model": ErrorPublic, "description": "the store cannot answer"}},
)


def _buckets(buckets: list[Bucket]) -> BucketsPublic:
    return BucketsPublic(data=[BucketPublic(key=b.key, count=b.count) for b in buckets])


@router.get("", response_model=EventsPublic)
def search_events(
    store: StoreDep,
    when: TimeRangeDep,
    q: QueryDep = "",
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Any:
    """Events matching the query in the time range, newest first, ``size`` per page."""
    result = store.search(q, when, size=size, cursor=cursor or None)
    return {"data": result.data, "count": result.count, "cursor": result.cursor}


@router.get("/histogram", response_model=BucketsPublic)
def event_histogram(store: StoreDep, when: TimeRangeDep, interval_s: IntervalDep,
                    q: QueryDep = "") -> BucketsPublic:
    """Counts of matching events per time bucket (key: ISO start), oldest first."""
    return _buckets(store.histogram(q, when, interval_s=interval_s))


@router.get("/terms", response_model=BucketsPublic)
def event_terms(
    store: StoreDep,
    when: TimeRangeDep,
    field: Annotated[str, Query(min_length=1, max_length=256, examples=["event.dataset"])],
    q: QueryDep = "",
    size: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> BucketsPublic:
    """The most frequent values of a field among matching events, most frequent first."""
    return _buckets(store.terms(field, q, when, size=size))


@router.get("/{event_id}", response_model=EventPublic, responses={404: {"model": ErrorPublic}})
def read_event(store: StoreDep, event_id: str) -> Any:
    """One event by its ``event.id``."""
    event = store.get(event_id)
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no event with this id")
    return event
