"""Response actions: ``POST /api/alerts/{id}/actions`` performs one on an alert (analysts),
``POST /api/incidents/{id}/actions`` on one alert of an incident, ``GET /api/actions`` lists
the records, those of policies too.

Each action is kept in the action log (``response.actions_db``) and in the console's audit log
(who, what, when, from where, why). With ``dry_run: false`` it goes to the configured
automation (``response.automation``), or, without one, its artefacts are ready to apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from console.api.deps import (
    AccountsDep,
    AnalystDep,
    SettingsDep,
    StoreDep,
    client_ip,
)
from console.api.response_schemas import (
    ActionPublic,
    ActionRequest,
    ActionsPublic,
    IncidentActionRequest,
)
from console.api.routes.alerts import NOT_FOUND
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from liaowang.config import Settings
from liaowang.events import get_field
from pipelines.response import ActionError, ActionLog, perform, short
from pipelines.store.base import Event, Store, TimeRange

router = APIRouter(tags=["actions"], responses=AUTH_RESPONSES)

MAX_RELATED = 200


def get_action_log(settings: SettingsDep) -> Iterator[ActionLog]:
    log = ActionLog(settings.response.actions_db)
    try:
        yield log
    finally:
        log.close()


ActionLogDep = Annotated[ActionLog, Depends(get_action_log)]


@router.post("/api/alerts/{alert_id}/actions", response_model=ActionPublic,
             responses={404: {"model": ErrorPublic},
                        409: {"model": ErrorPublic,
                              "description": "the action does not apply to this alert"}})
def act_on_alert(caller: AnalystDep, request: Request, store: StoreDep, settings: SettingsDep,
                 accounts: AccountsDep, log: ActionLogDep, alert_id: str,
                 action: ActionRequest) -> Any:
    """Perform ``kind`` on the alert, with a reason; returns the record and its artefacts."""
    alert = store.get(alert_id)
    if alert is None or get_field(alert, "event.kind") != "alert":
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    record = _perform(action, alert, _related(store, alert), settings, log,
                      caller.actor, client_ip(request))
    accounts.audit.record(caller.actor, f"action.{action.kind}", alert_id, client_ip(request),
                          json.dumps(short(record), ensure_ascii=False))
    return record


@router.post("/api/incidents/{incident_id}/actions", response_model=ActionPublic,
             responses={404: {"model": ErrorPublic},
                        409: {"model": ErrorPublic,
                              "description": "the action does not apply to this alert"}})
def act_on_incident(caller: AnalystDep, request: Request, store: StoreDep,
                    settings: SettingsDep, accounts: AccountsDep, log: ActionLogDep,
                    incident_id: str, action: IncidentActionRequest) -> Any:
    """Perform ``kind`` on one alert of the incident (``alert_id``, else its most severe)."""
    incident = store.get_incident(incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no incident with this id")
    alert = _incident_alert(store, incident, action.alert_id)
    record = _perform(action, alert, _related(store, alert), settings, log, caller.actor,
                      client_ip(request), incident_id)
    accounts.audit.record(caller.actor, f"action.{action.kind}", incident_id,
                          client_ip(request), json.dumps(short(record), ensure_ascii=False))
    return record


@router.get("/api/actions", response_model=ActionsPublic)
def list_actions(_: AnalystDep, log: ActionLogDep,
                 alert_id: Annotated[str | None, Query(max_length=128)] = None,
                 size: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    """The latest actions (on one alert with ``alert_id``), newest first."""
    records = log.list(alert_id or None, size)
    return {"data": records, "count": len(records)}


def _perform(action: ActionRequest, alert: Event, related: list[Event], settings: Settings,
             log: ActionLog, actor: str, origin: str, incident_id: str | None = None
             ) -> dict[str, Any]:
    try:
        return perform(action.kind, alert, related, settings=settings.response, log=log,
                       side=action.target, reason=action.reason, dry_run=action.dry_run,
                       actor=actor, origin=origin, incident_id=incident_id)
    except ActionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


def _incident_alert(store: Store, incident: Event, alert_id: str | None) -> Event:
    """The incident's alert ``alert_id``, or its most severe (the latest among equals)."""
    ids = get_field(incident, "incident.alert_ids") or []
    if alert_id is not None and alert_id not in ids:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the incident has no alert with this id")
    found = [alert for alert in (store.get(i) for i in ([alert_id] if alert_id else ids))
             if alert is not None]
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the incident's alerts are not stored")
    return max(found, key=lambda alert: (get_field(alert, "event.severity") or 0,
                                         str(alert.get("@timestamp", ""))))


def _related(store: Store, alert: Event) -> list[Event]:
    """The alert's evidence and the other events of its flow (for the session identifiers an
    isolation names)."""
    ids = get_field(alert, "evidence.event_ids") or []
    evidence = [store.get(event_id) for event_id in ids[:MAX_RELATED]]
    flow = get_field(alert, "network.community_id")
    same_flow = store.search(f'network.community_id:"{flow}" AND NOT event.kind:alert',
                             TimeRange(), size=MAX_RELATED).data if flow else []
    return [event for event in [*evidence, *same_flow] if event is not None]
