"""``/api/webhooks``: the configured webhook targets with their delivery counts, their latest
deliveries and dead letters, and replaying a dead letter (admins; every replay is audited).

Admins only: webhook URLs carry the robots' access tokens. Each target's state is on disk
(``<pipelines.spool.path>/webhooks/<name>/``): the ledger of its messages and its queue, read
here without disturbing the process delivering from it. A replayed dead letter goes out at
once when this process delivers to that target (``liaowang up``); otherwise it is queued again
on disk, and the next process delivering to that target sends it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from console.api.deps import AccountsDep, AdminDep, SettingsDep, client_ip
from console.api.response_schemas import (
    DeliveriesPublic,
    ReplayedPublic,
    WebhookPublic,
    WebhooksPublic,
)
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from liaowang.config import Settings, WebhookSettings
from pipelines.spool import SpoolError, pending_on_disk
from pipelines.webhooks.ledger import Ledger
from pipelines.webhooks.targets import (
    dead_letters,
    deliveries,
    replay_dead_letters,
    running_delivery,
    target_folder,
)

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], responses=AUTH_RESPONSES)

Size = Annotated[int, Query(ge=1, le=1000)]
NO_WEBHOOK: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "no webhook of this name is configured"}}
WebhookName = Annotated[str | None, Query(max_length=64, description="one target only")]


@router.get("", response_model=WebhooksPublic)
def list_webhooks(_: AdminDep, settings: SettingsDep) -> Any:
    """The configured targets, with what they delivered, what waits and what is dead."""
    return {"data": [_status(settings, webhook) for webhook in settings.webhooks]}


@router.get("/deliveries", response_model=DeliveriesPublic, responses=NO_WEBHOOK)
def list_deliveries(_: AdminDep, settings: SettingsDep, webhook: WebhookName = None,
                    size: Size = 100) -> Any:
    """The latest messages, delivered, dead or replayed, newest first."""
    return {"data": _messages(settings, webhook, size, dead_only=False)}


@router.get("/dead-letters", response_model=DeliveriesPublic, responses=NO_WEBHOOK)
def list_dead_letters(_: AdminDep, settings: SettingsDep, webhook: WebhookName = None,
                      size: Size = 100) -> Any:
    """Messages given up on, newest first: each can be replayed."""
    return {"data": _messages(settings, webhook, size, dead_only=True)}


@router.post("/dead-letters/{key}/replay", response_model=ReplayedPublic,
             responses={404: {"model": ErrorPublic, "description": "no such dead letter"},
                        503: {"model": ErrorPublic, "description": "the queue is in use"}})
def replay_dead_letter(caller: AdminDep, request: Request, settings: SettingsDep,
                       accounts: AccountsDep, key: str, webhook: WebhookName = None
                       ) -> ReplayedPublic:
    """Queue the dead letter ``key`` again (for every target holding it, or ``webhook``)."""
    holding = [name for name in _names(settings, webhook)
               if any(letter.key == key for letter in dead_letters(settings, name, 10_000))]
    if not holding:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no dead letter with this key")
    try:
        replayed = sum(replay_dead_letters(settings, name, [key], running_delivery(name))
                       for name in holding)
    except SpoolError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    accounts.audit.record(caller.actor, "webhook.replay", key, client_ip(request),
                          f"{replayed} alerts queued again for {', '.join(holding)}")
    return ReplayedPublic(replayed=replayed)


def _status(settings: Settings, webhook: WebhookSettings) -> WebhookPublic:
    folder = target_folder(settings, webhook.name)
    counts: dict[str, int] = {}
    if (folder / "deliveries.db").exists():
        ledger = Ledger(folder / "deliveries.db")
        try:
            counts = ledger.counts()
        finally:
            ledger.close()
    return WebhookPublic(name=webhook.name, url=webhook.url, format=webhook.format,
                         min_severity=webhook.min_severity,
                         delivered=counts.get("delivered", 0), dead=counts.get("dead", 0),
                         pending=pending_on_disk(folder / "queue"))


def _names(settings: Settings, webhook: str | None) -> list[str]:
    names = [target.name for target in settings.webhooks]
    if webhook and webhook not in names:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook named {webhook!r}")
    return [webhook] if webhook else names


def _messages(settings: Settings, webhook: str | None, size: int, *, dead_only: bool
              ) -> list[dict[str, Any]]:
    read = dead_letters if dead_only else deliveries
    rows = [{"webhook": name, **_public(record)} for name in _names(settings, webhook)
            for record in read(settings, name, size)]
    return sorted(rows, key=lambda row: row["at"], reverse=True)[:size]


def _public(record: Any) -> dict[str, Any]:
    return {"key": record.key, "status": record.status, "alert_ids": record.alert_ids,
            "attempts": record.attempts or 0, "queued_at": record.queued_at or 0.0,
            "at": record.at, "detail": record.detail}
