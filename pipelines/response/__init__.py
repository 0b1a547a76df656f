"""Response actions on alerts: ``block`` an address, ``isolate`` a 5G-core peer, ``quarantine``
an asset.

Each kind has a builder module (``block.py``, ``isolate.py``, ``quarantine.py``) that turns an
alert into a :class:`~pipelines.response.base.Plan`; :func:`perform` makes the action record,
sends it to the operator's automation when it is meant to be enforced, and keeps it in the
:class:`~pipelines.response.log.ActionLog`. Policies (``response.policies``) perform actions on
matching alerts automatically (:mod:`pipelines.response.policies`).

A record: ``id``, ``at``, ``kind``, ``alert_id`` (and ``incident_id``), ``rule``, ``target``,
``reason``, ``actor`` and ``origin`` (who and from where), ``dry_run``, ``status`` (``dry_run``:
recorded only; ``generated``: artefacts ready to copy, no automation configured; ``sent`` or
``failed``: what the automation answered), ``detail``, ``payload`` and ``artefacts``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from liaowang.config import ResponseSettings
from liaowang.events import get_field
from pipelines.response import block, isolate, quarantine
from pipelines.response.automation import send
from pipelines.response.base import ActionError, Event, Options, Plan, Side
from pipelines.response.log import ActionLog, Record

__all__ = ["ACTIONS", "ActionError", "ActionLog", "Record", "perform"]

Builder = Callable[[Event, Sequence[Event], Options], Plan]
ACTIONS: dict[str, Builder] = {"block": block.build, "isolate": isolate.build,
                               "quarantine": quarantine.build}


def perform(kind: str, alert: Event, related: Sequence[Event], *, settings: ResponseSettings,
            log: ActionLog, side: Side = "source", reason: str, dry_run: bool, actor: str,
            origin: str, action_id: str | None = None, incident_id: str | None = None,
            client: httpx.Client | None = None) -> Record:
    """Build, maybe send, and keep the action ``kind`` on ``alert`` (of the incident
    ``incident_id``, when taken from one); returns its record (:class:`ActionError` when it
    cannot be built, ``KeyError`` for an unknown kind)."""
    options = Options(side=side, quarantine_zone=settings.quarantine_zone)
    plan = ACTIONS[kind](alert, related, options)
    record = _record(kind, alert, plan, reason=reason, dry_run=dry_run, actor=actor,
                     origin=origin, action_id=action_id)
    if incident_id is not None:
        record["incident_id"] = incident_id
    if not dry_run and settings.automation is not None:
        sent, detail = send(record, settings.automation, client)
        record.update(status="sent" if sent else "failed", detail=detail)
    log.add(record)
    return record


def _record(kind: str, alert: Event, plan: Plan, *, reason: str, dry_run: bool, actor: str,
            origin: str, action_id: str | None) -> Record:
    status = "dry_run" if dry_run else "generated"
    detail = "recorded, not performed" if dry_run else "artefacts ready to apply"
    return {"id": action_id or uuid.uuid4().hex, "at": _now(), "kind": kind,
            "alert_id": get_field(alert, "event.id"),
            "rule": {"id": get_field(alert, "rule.id"), "name": get_field(alert, "rule.name")},
            "target": plan.target, "reason": reason, "actor": actor, "origin": origin,
            "dry_run": dry_run, "status": status, "detail": detail,
            "payload": plan.payload, "artefacts": plan.artefacts}


def _now() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def related_fields() -> tuple[str, ...]:
    """The fields of related events that builders read (what a policy remembers per flow)."""
    return ("pfcp.seid", "pfcp.node_id", "gtpv2.teid", "gtp.teid", "network.community_id")


def short(record: Record) -> dict[str, Any]:
    """The record without its bulky parts, for an audit entry."""
    return {key: record.get(key) for key in ("id", "kind", "alert_id", "target", "reason",
                                             "dry_run", "status", "detail")}
