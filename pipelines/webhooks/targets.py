"""What the console needs of the webhook targets: their deliveries and dead letters, replaying
dead letters, and opening the deliveries of a configuration.

Each target keeps its state under ``<pipelines.spool.path>/webhooks/<name>/``: ``queue/`` (the
alerts waiting, one spool lane per process) and ``deliveries.db`` (the ledger).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from liaowang.config import Settings, WebhookSettings
from pipelines.spool import open_spool
from pipelines.webhooks.delivery import WebhookDelivery, enqueue, open_delivery
from pipelines.webhooks.ledger import Ledger, MessageRecord

__all__ = ["WebhookDelivery", "dead_letters", "deliveries", "open_deliveries",
           "replay_dead_letters", "running_delivery", "target_folder"]

_running: weakref.WeakValueDictionary[str, WebhookDelivery] = weakref.WeakValueDictionary()


def target_folder(settings: Settings, name: str) -> Path:
    return Path(settings.pipelines.spool.path) / "webhooks" / name


def open_deliveries(settings: Settings) -> list[WebhookDelivery]:
    """A running delivery for every configured webhook (known to :func:`running_delivery`)."""
    opened = [_open(settings, webhook) for webhook in settings.webhooks]
    for delivery in opened:
        _running[delivery.webhook.name] = delivery
    return opened


def running_delivery(name: str) -> WebhookDelivery | None:
    """The delivery to the webhook ``name`` that this process runs, if any (``liaowang up``
    runs the console beside the sensor's deliveries): a dead letter replayed through it goes
    out at once."""
    delivery = _running.get(name)
    return delivery if delivery is not None and delivery.running else None


def _open(settings: Settings, webhook: WebhookSettings) -> WebhookDelivery:
    spool = settings.pipelines.spool
    return open_delivery(webhook, target_folder(settings, webhook.name),
                         max_bytes=spool.max_mb << 20, segment_bytes=spool.segment_mb << 20,
                         observer=settings.sensor.name)


def deliveries(settings: Settings, name: str, limit: int = 100) -> list[MessageRecord]:
    """The latest messages to the webhook ``name``, delivered or dead, newest first."""
    return _ledger_call(settings, name, lambda ledger: ledger.messages(limit=limit))


def dead_letters(settings: Settings, name: str, limit: int = 100) -> list[MessageRecord]:
    """The dead letters of the webhook ``name``, newest first."""
    return _ledger_call(settings, name, lambda ledger: ledger.messages("dead", limit))


def replay_dead_letters(settings: Settings, name: str, keys: Sequence[str] | None = None,
                        delivery: WebhookDelivery | None = None) -> int:
    """Queue again the alerts of the dead letters ``keys`` (all when None) of the webhook
    ``name``; returns how many. With ``delivery`` (this process delivers to it) they go out
    at once; without, they wait in a queue lane for the next process that delivers there."""
    if delivery is not None:
        return delivery.replay_dead_letters(keys)
    _webhook(settings, name)
    folder = target_folder(settings, name)
    spool = settings.pipelines.spool
    with open_spool(folder / "queue", max_bytes=spool.max_mb << 20,
                    segment_bytes=spool.segment_mb << 20, observer=settings.sensor.name) as queue:
        ledger = Ledger(folder / "deliveries.db")
        try:
            alerts = [alert for message in ledger.take_dead(keys) for alert in message.alerts]
            enqueue(queue, alerts, time.time())
        finally:
            ledger.close()
    return len(alerts)


def _ledger_call(settings: Settings, name: str,
                 call: Callable[[Ledger], list[MessageRecord]]) -> list[MessageRecord]:
    _webhook(settings, name)
    ledger = Ledger(target_folder(settings, name) / "deliveries.db")
    try:
        return call(ledger)
    finally:
        ledger.close()


def _webhook(settings: Settings, name: str) -> WebhookSettings:
    for webhook in settings.webhooks:
        if webhook.name == name:
            return webhook
    raise KeyError(f"no webhook named {name!r} in the configuration")
