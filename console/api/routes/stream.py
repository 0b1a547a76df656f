"""``/api/stream/alerts``: new alerts as server-sent events, one ``data: <alert JSON>`` each.

The store is polled (it is shared with sensors in other processes, so there is nothing to
subscribe to): each poll reads the newest alerts and sends those not seen in the previous poll,
oldest first. A stream ends when its session or token stops being valid.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from console.api.deps import AccountsDep, SettingsDep, StoreDep, ViewerDep, session_principal
from console.api.schemas import AUTH_RESPONSES
from console.auth.accounts import Accounts, Principal
from liaowang.events import get_field
from pipelines.store.base import Event, Store, StoreError

router = APIRouter(prefix="/api/stream", tags=["stream"], responses=AUTH_RESPONSES)

WINDOW = 200


class NewAlerts:
    """Alerts that appear among the newest ``WINDOW`` between two polls."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen: set[str] = set()

    def start(self) -> None:
        """Take what is stored now as already seen."""
        self._seen = {_id(alert) for alert in self._newest()}

    def poll(self) -> list[Event]:
        newest = self._newest()
        fresh = [alert for alert in newest if _id(alert) not in self._seen]
        self._seen = {_id(alert) for alert in newest}
        return fresh[::-1]

    def _newest(self) -> list[Event]:
        return self._store.search("event.kind:alert", size=WINDOW).data


@router.get("/alerts", response_class=EventSourceResponse)
async def stream_alerts(caller: ViewerDep, store: StoreDep, settings: SettingsDep,
                        accounts: AccountsDep) -> AsyncIterator[dict[str, Any]]:
    """Every alert stored after the stream opened, as one SSE ``data:`` line of JSON."""
    alerts = NewAlerts(store)
    await run_in_threadpool(alerts.start)
    while await run_in_threadpool(_still_valid, accounts, caller):
        await asyncio.sleep(settings.console.stream_poll_s)
        try:
            fresh = await run_in_threadpool(alerts.poll)
        except StoreError:
            continue  # the store is briefly unavailable; the stream waits for it
        for alert in fresh:
            yield alert


def _still_valid(accounts: Accounts, caller: Principal) -> bool:
    if caller.session_id is None:
        return accounts.tokens.is_live(caller.token_id or "")
    try:
        session_principal(accounts, caller.session_id)
    except HTTPException:
        return False
    return True


def _id(alert: Event) -> str:
    return str(get_field(alert, "event.id"))
