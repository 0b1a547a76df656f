"""``/api/incidents``: alerts grouped by :mod:`detection.incidents`, listed, read with their
timeline and alerts, and triaged like alerts (audited as ``incident.update``)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from console.api.deps import AccountsDep, AnalystDep, StoreDep, TimeRangeDep, ViewerDep, client_ip
from console.api.schemas import AUTH_RESPONSES, AlertStatus, ErrorPublic
from console.api.schemas_incidents import (
    IncidentDetailPublic,
    IncidentPatch,
    IncidentPublic,
    IncidentSort,
    IncidentsPublic,
    IncidentState,
)
from console.auth.accounts import Principal
from liaowang.events import get_field
from pipelines.store.base import Event, Store
from pipelines.store.incidents import IncidentFilter

router = APIRouter(
    prefix="/api/incidents",
    tags=["incidents"],
    responses={**AUTH_RESPONSES,
               400: {"model": ErrorPublic, "description": "the cursor or a time is not valid"},
               503: {"model": ErrorPublic, "description": "the store cannot answer"}},
)

MAX_ALERTS = 200
NOT_FOUND = "no incident with this id"
_comment_lock = threading.Lock()   # comments are read, extended and written back


@router.get("", response_model=IncidentsPublic)
def search_incidents(
    _: ViewerDep,
    store: StoreDep,
    when: TimeRangeDep,
    status: AlertStatus | None = None,
    state: IncidentState | None = None,
    min_severity: Annotated[int | None, Query(ge=1, le=4)] = None,
    sort: IncidentSort = "last_seen",
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Any:
    """Incidents whose last alert falls in the time range, most recent (or riskiest) first."""
    filters = IncidentFilter(status=status, state=state, min_severity=min_severity, when=when,
                             sort=sort)
    result = store.search_incidents(filters, size=size, cursor=cursor or None)
    return {"data": result.data, "count": result.count, "cursor": result.cursor}


@router.get("/{incident_id}", response_model=IncidentDetailPublic,
            responses={404: {"model": ErrorPublic}})
def read_incident(_: ViewerDep, store: StoreDep, incident_id: str) -> Any:
    """One incident with its timeline, and the stored alerts it groups."""
    incident = _incident(store, incident_id)
    ids = get_field(incident, "incident.alert_ids") or []
    alerts = [store.get(alert_id) for alert_id in ids[:MAX_ALERTS]]
    return {"incident": incident, "alerts": [alert for alert in alerts if alert is not None]}


@router.patch("/{incident_id}", response_model=IncidentPublic,
              responses={404: {"model": ErrorPublic}})
def triage_incident(caller: AnalystDep, request: Request, store: StoreDep,
                    accounts: AccountsDep, incident_id: str, patch: IncidentPatch) -> Any:
    """Set the status and/or assignee (null unassigns) and/or append a comment."""
    with _comment_lock:
        incident = _incident(store, incident_id)
        updated = store.update_incident(incident_id, _changes(patch, incident, caller))
    if updated is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    detail = json.dumps(patch.model_dump(exclude_unset=True), ensure_ascii=False)
    accounts.audit.record(caller.actor, "incident.update", incident_id, client_ip(request),
                          detail)
    return updated


def _incident(store: Store, incident_id: str) -> Event:
    incident = store.get_incident(incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return incident


def _changes(patch: IncidentPatch, incident: Event, caller: Principal) -> dict[str, Any]:
    """The merge patch of a triage request (``None`` removes the assignee)."""
    given = patch.model_fields_set
    triage: dict[str, Any] = {}
    if "status" in given and patch.status is not None:
        triage["status"] = patch.status
    if "assignee" in given:
        triage["assignee"] = patch.assignee
    if patch.comment:
        earlier = get_field(incident, "incident.comments") or []
        triage["comments"] = [*earlier, {"by": caller.actor, "at": _now(), "text": patch.comment}]
    return {"incident": triage}


def _now() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"
