"""Alerts to the configured webhooks: every batch's alerts, filtered per target, queued for
its :class:`~pipelines.webhooks.delivery.WebhookDelivery`.

:func:`wait_for_webhooks` is what ``liaowang replay`` calls before it exits, and
:func:`report` what it prints about each target.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from liaowang.config import Settings
from pipelines.sinks.base import Event, Sink
from pipelines.webhooks.filters import accepts, is_alert

if TYPE_CHECKING:
    from pipelines.webhooks.delivery import WebhookDelivery


class WebhookSink(Sink):
    def __init__(self, deliveries: Sequence[WebhookDelivery]) -> None:
        self.deliveries = list(deliveries)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSink | None:
        """The sink for the configured webhooks; None when there are none."""
        if not settings.webhooks:
            return None
        from pipelines.webhooks.targets import open_deliveries

        return cls(open_deliveries(settings))

    def write(self, events: Sequence[Event]) -> None:
        alerts = [event for event in events if is_alert(event)]
        if not alerts:
            return
        for delivery in self.deliveries:
            delivery.enqueue([alert for alert in alerts if accepts(delivery.webhook, alert)])

    def flush(self, timeout: float = 0.0) -> bool:
        """Wait, within one ``timeout`` for all targets, until each has delivered or
        dead-lettered what it was given; returns whether all have."""
        deadline = time.monotonic() + timeout
        return all([delivery.flush(max(0.0, deadline - time.monotonic()))
                    for delivery in self.deliveries])

    @property
    def pending(self) -> int:
        return sum(delivery.pending for delivery in self.deliveries)

    def close(self, timeout: float = 5.0) -> None:
        for delivery in self.deliveries:
            delivery.close(timeout)


def wait_for_webhooks(sinks: Sequence[Sink], timeout: float) -> list[WebhookSink]:
    """Wait up to ``timeout`` seconds for the webhook sinks among ``sinks`` (also behind sinks
    holding others in ``.sinks``) to settle; returns them."""
    found = _webhook_sinks(sinks)
    deadline = time.monotonic() + timeout
    for sink in found:
        sink.flush(max(0.0, deadline - time.monotonic()))
    return found


def _webhook_sinks(sinks: Sequence[Sink]) -> list[WebhookSink]:
    found: list[WebhookSink] = []
    for sink in sinks:
        if isinstance(sink, WebhookSink):
            found.append(sink)
        found += _webhook_sinks(getattr(sink, "sinks", []))
    return found


def report(sinks: Sequence[WebhookSink]) -> list[str]:
    """One line per target: what it took, what is dead, what is left and why."""
    lines = []
    for delivery in (d for sink in sinks for d in sink.deliveries):
        stats = delivery.stats
        line = (f"webhook {delivery.webhook.name}: delivered={stats.alerts} "
                f"messages={stats.messages} digests={stats.digests} dead={stats.dead} "
                f"attempts={stats.attempts} repeats={stats.repeats} left={delivery.pending}")
        if delivery.pending:
            line += (f" (they wait in {delivery.queue.folder} for the next run: "
                     f"{delivery.last_error or 'not delivered in time'})")
        lines.append(line)
    return lines
