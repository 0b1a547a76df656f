"""``/api/alerts``: list and filter alerts, read one with its evidence, triage one or many.

Alerts are stored events with ``event.kind: alert``. Their triage state is ``alert.status``
(``new`` when absent), ``alert.assignee`` and ``alert.comments`` (``[{by, at, text}]``, only ever
appended), changed through the store's ``update_alert``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from console.api.deps import (
    AccountsDep,
    AnalystDep,
    QueryDep,
    StoreDep,
    TimeRangeDep,
    ViewerDep,
    client_ip,
)
from console.api.schemas import (
    AUTH_RESPONSES,
    AlertDetailPublic,
    AlertPatch,
    AlertsBulk,
    AlertsPublic,
    AlertStatus,
    BulkResultPublic,
    ErrorPublic,
    EventPublic,
)
from console.auth.accounts import Principal
from liaowang.events import get_field
from pipelines.query import parse_query
from pipelines.store.base import Event, Store

router = APIRouter(
    prefix="/api/alerts",
    tags=["alerts"],
    responses={**AUTH_RESPONSES,
               400: {"model": ErrorPublic, "description": "the query does not parse"},
               503: {"model": ErrorPublic, "description": "the store cannot answer"}},
)

MAX_EVIDENCE = 100
NOT_FOUND = "no alert with this id"
_STATUS_QUERY = {"new": "(NOT alert.status:* OR alert.status:new)"}
# Comments are read, extended and written back: one writer at a time in this process.
_comment_lock = threading.Lock()


def alert_query(q: str, status_filter: AlertStatus | None, min_severity: int | None) -> str:
    """The store query for alerts matching the user's query and the filters.

    >>> alert_query("source.ip:10.0.0.1", "new", 3)
    'event.kind:alert AND (source.ip:10.0.0.1) AND (NOT alert.status:* OR alert.status:new) \
AND event.severity:>=3'
    """
    parts = ["event.kind:alert"]
    if q.strip():
        parse_query(q)  # alone first: a fragment like "a) OR (b" must not escape its brackets
        parts.append(f"({q})")
    if status_filter:
        parts.append(_STATUS_QUERY.get(status_filter, f"alert.status:{status_filter}"))
    if min_severity:
        parts.append(f"event.severity:>={min_severity}")
    return " AND ".join(parts)


@router.get("", response_model=AlertsPublic)
def search_alerts(
    _: ViewerDep,
    store: StoreDep,
    when: TimeRangeDep,
    q: QueryDep = "",
    status: AlertStatus | None = None,
    min_severity: Annotated[int | None, Query(ge=1, le=4)] = None,
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Any:
    """Alerts matching the query and filters in the time range, newest first."""
    result = store.search(alert_query(q, status, min_severity), when, size=size,
                          cursor=cursor or None)
    return {"data": result.data, "count": result.count, "cursor": result.cursor}


@router.get("/{alert_id}", response_model=AlertDetailPublic,
            responses={404: {"model": ErrorPublic}})
def read_alert(_: ViewerDep, store: StoreDep, alert_id: str) -> Any:
    """One alert, with the stored events it names as evidence."""
    alert = _alert(store, alert_id)
    ids = get_field(alert, "evidence.event_ids") or []
    evidence = [store.get(event_id) for event_id in ids[:MAX_EVIDENCE]]
    return {"alert": alert, "evidence": [event for event in evidence if event is not None]}


@router.patch("/{alert_id}", response_model=EventPublic,
              responses={404: {"model": ErrorPublic}})
def triage_alert(caller: AnalystDep, request: Request, store: StoreDep, accounts: AccountsDep,
                 alert_id: str, patch: AlertPatch) -> Any:
    """Set the status and/or assignee (null unassigns) and/or append a comment."""
    with _comment_lock:
        alert = _alert(store, alert_id)
        updated = store.update_alert(alert_id, _changes(patch, alert, caller))
    if updated is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    detail = json.dumps(patch.model_dump(exclude_unset=True), ensure_ascii=False)
    accounts.audit.record(caller.actor, "alert.update", alert_id, client_ip(request), detail)
    return updated


@router.post("/bulk", response_model=BulkResultPublic)
def triage_alerts(caller: AnalystDep, request: Request, store: StoreDep, accounts: AccountsDep,
                  bulk: AlertsBulk) -> BulkResultPublic:
    """The same status and/or assignee for every listed alert; unknown ids are skipped."""
    changes = _changes(bulk, {}, caller)
    updated = sum(store.update_alert(alert_id, changes) is not None
                  for alert_id in dict.fromkeys(bulk.ids))
    detail = json.dumps(bulk.model_dump(exclude_unset=True, exclude={"ids"}) |
                        {"ids": len(bulk.ids), "updated": updated})
    accounts.audit.record(caller.actor, "alert.bulk_update", ",".join(bulk.ids[:20]),
                          client_ip(request), detail)
    return BulkResultPublic(updated=updated)


def _alert(store: Store, alert_id: str) -> Event:
    event = store.get(alert_id)
    if event is None or get_field(event, "event.kind") != "alert":
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return event


def _changes(patch: AlertPatch | AlertsBulk, alert: Event, caller: Principal) -> dict[str, Any]:
    """The merge patch of a triage request (``None`` removes the assignee)."""
    given = patch.model_fields_set
    triage: dict[str, Any] = {}
    if "status" in given and patch.status is not None:
        triage["status"] = patch.status
    if "assignee" in given:
        triage["assignee"] = patch.assignee
    comment = getattr(patch, "comment", None)
    if comment:
        earlier = get_field(alert, "alert.comments") or []
        triage["comments"] = [*earlier, {"by": caller.actor, "at": _now(), "text": comment}]
    return {"alert": triage}


def _now() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"
