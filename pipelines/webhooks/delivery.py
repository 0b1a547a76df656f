"""Delivery to one webhook target: a queue on disk, a thread, retries, a rate limit, dead
letters.

:meth:`WebhookDelivery.enqueue` appends alerts to the target's queue (a
:class:`~pipelines.spool.Spool`, on disk when it returns). The delivery thread reads them in
rounds. A round whose alerts fit in the rate limit (a token bucket of ``rate_per_min``) goes
out one message per alert; a burst beyond it waits for one token and goes out as one digest of
everything queued by then. Each message is tried until the target takes it (2xx), with
exponential back-off from ``retry_first_s`` to ``retry_max_s`` on connection errors, 408, 429
and 5xx (or the wait a ``Retry-After`` asks for); when the next attempt would come after the
oldest alert is ``max_age_s`` old, or when the target refuses it outright (another 4xx, a
robot's error code), it becomes a dead letter in the :class:`~pipelines.webhooks.ledger.Ledger`.
A round is acknowledged in the queue only once every message of it is delivered or dead, and
an alert the target has taken is never sent to it again (the ledger remembers it; the
``Idempotency-Key`` lets the receiver drop the rare repeat of a crash between its 2xx and the
ledger).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from liaowang.config import WebhookSettings
from pipelines.spool import Batch, Spool
from pipelines.webhooks.base import (
    Event,
    Message,
    Outcome,
    RenderError,
    Reply,
    classify,
)
from pipelines.webhooks.formats import FORMATS
from pipelines.webhooks.ledger import Ledger
from pipelines.webhooks.ratelimit import TokenBucket

log = logging.getLogger(__name__)

ROUND_ALERTS = 100      # alerts read from the queue at once: the largest digest


@dataclass(slots=True)
class DeliveryStats:
    alerts: int = 0         # alerts the target took
    messages: int = 0       # messages it took (a digest counts once)
    digests: int = 0
    dead: int = 0           # alerts dead-lettered
    attempts: int = 0       # HTTP requests made
    repeats: int = 0        # alerts queued again that the target had already taken


@dataclass(slots=True)
class _Round:
    batches: list[Batch]
    alerts: list[Event] = field(default_factory=list)
    queued_at: dict[str, float] = field(default_factory=dict)
    repeats: int = 0

    def message(self, alerts: Sequence[Event]) -> Message:
        oldest = min(self.queued_at.get(_id(alert), time.time()) for alert in alerts)
        return Message(tuple(alerts), queued_at=oldest)


class WebhookDelivery:
    """The delivery to ``webhook`` from the queue ``queue``, recorded in ``ledger``."""

    def __init__(self, webhook: WebhookSettings, queue: Spool, ledger: Ledger, *,
                 client: httpx.Client | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.webhook, self.queue, self.ledger = webhook, queue, ledger
        self.format = FORMATS[webhook.format]
        self.client = client or httpx.Client(timeout=webhook.timeout_s)
        self.clock = clock
        self.bucket = TokenBucket(webhook.rate_per_min)
        self.stats = DeliveryStats()
        self.last_error: str | None = None
        self._written = 0
        self._caught_up = -1
        self._progress = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._deliver_until_stopped,
                                        name=f"webhook-{webhook.name}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"WebhookDelivery({self.webhook.name!r})"

    # --- the caller's side ----------------------------------------------------------------------

    def enqueue(self, alerts: Sequence[Event]) -> None:
        """Queue ``alerts`` for the target (on disk when this returns)."""
        if not alerts:
            return
        enqueue(self.queue, alerts, self.clock())
        with self._progress:
            self._written += 1
        self._wake.set()

    def flush(self, timeout: float = 0.0) -> bool:
        """Wait up to ``timeout`` seconds until every alert queued so far is delivered or
        dead-lettered; returns whether it is."""
        self._wake.set()
        with self._progress:
            return self._progress.wait_for(self._settled, timeout)

    @property
    def running(self) -> bool:
        """Whether it still delivers (not closed)."""
        return not self._stop.is_set() and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Alerts queued and not yet delivered or dead-lettered."""
        return self.queue.pending

    def replay_dead_letters(self, keys: Sequence[str] | None = None) -> int:
        """Queue the alerts of the dead letters ``keys`` (or all) again; how many alerts."""
        alerts = [alert for message in self.ledger.take_dead(keys) for alert in message.alerts]
        self.enqueue(alerts)
        return len(alerts)

    def close(self, timeout: float = 5.0) -> None:
        """Stop; what is not delivered stays queued for the next start."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("webhook %s still busy; its queue closes when the process exits",
                        self.webhook.name)
            return
        self.queue.close()
        self.ledger.close()
        self.client.close()

    def _settled(self) -> bool:
        return self._caught_up == self._written or not self._thread.is_alive()

    # --- the delivery thread --------------------------------------------------------------------

    def _deliver_until_stopped(self) -> None:
        while not self._stop.is_set():
            work = self._next_round()
            if work is None:
                self._wake.wait()
                continue
            messages = self._messages(work)
            if messages is None or not all(self._deliver(message) for message in messages):
                return      # stopped in the middle: the round stays queued
            for batch in work.batches:
                self.queue.ack(batch)
            self.stats.repeats += work.repeats
            with self._progress:
                self._progress.notify_all()

    def _next_round(self) -> _Round | None:
        """The alerts queued next; when there are none, record that the queue is caught up."""
        with self._progress:
            written = self._written
        self._wake.clear()
        batch = self.queue.read(ROUND_ALERTS)
        if batch is None:
            with self._progress:
                self._caught_up = written
                self._progress.notify_all()
            return None
        work = _Round([])
        self._add(work, batch)
        return work

    def _add(self, work: _Round, batch: Batch) -> None:
        work.batches.append(batch)
        for record in batch.events:
            alert, queued_at = _unwrap(record, self.clock())
            if alert is None:
                log.warning("webhook %s: a queue record that is not an alert skipped: %s",
                            self.webhook.name, record.get("weird", {}).get("detail", ""))
                continue
            work.queued_at.setdefault(_id(alert), queued_at)
            work.alerts.append(alert)

    def _messages(self, work: _Round) -> list[Message] | None:
        """One message per alert when the rate limit allows as many; else, once a message
        may go, one digest of what is queued by then (None: stopped while waiting)."""
        alerts = self._new_alerts(work)
        if not alerts or self.bucket.take(len(alerts)):
            return [work.message([alert]) for alert in alerts]
        while not self.bucket.take(1):
            if self._stop.wait(self.bucket.wait_s()):
                return None
        self._gather(work)
        alerts = self._new_alerts(work)
        return [work.message(alerts)] if alerts else []

    def _new_alerts(self, work: _Round) -> list[Event]:
        """The round's alerts that the target has not taken yet, each once."""
        alerts = _unique(self.ledger.undelivered(work.alerts))
        work.repeats = len(work.alerts) - len(alerts)
        return alerts

    def _gather(self, work: _Round) -> None:
        """Add what was queued while the round waited, up to a digest's size."""
        while len(work.alerts) < ROUND_ALERTS:
            batch = self.queue.read(ROUND_ALERTS - len(work.alerts))
            if batch is None:
                return
            self._add(work, batch)

    def _deliver(self, message: Message) -> bool:
        """Try ``message`` until it is delivered or dead; False when stopped before that."""
        deadline = message.queued_at + self.webhook.max_age_s
        attempts = 0
        while True:
            attempts += 1
            reply = self._attempt(message)
            if reply.outcome is Outcome.DELIVERED:
                self._delivered(message, attempts)
                return True
            self.last_error = reply.detail
            delay = reply.retry_after
            if delay is None:
                delay = min(self.webhook.retry_max_s,
                            self.webhook.retry_first_s * 2 ** (attempts - 1))
            if reply.outcome is Outcome.REFUSED:
                self._dead(message, attempts, f"refused: {reply.detail}")
                return True
            if self.clock() + delay > deadline:
                self._dead(message, attempts, f"gave up at {self.webhook.max_age_s:g} s of "
                                              f"age: {reply.detail}")
                return True
            if attempts == 1:
                log.warning("webhook %s: %s; retrying", self.webhook.name, reply.detail)
            if self._stop.wait(delay):
                return False

    def _attempt(self, message: Message) -> Reply:
        self.stats.attempts += 1
        try:
            request = self.format.render(message, self.webhook, self.clock())
        except RenderError as exc:
            return Reply(Outcome.REFUSED, str(exc))
        try:
            response = self.client.post(request.url, content=request.body,
                                        headers=dict(request.headers))
        except httpx.TransportError as exc:
            return Reply(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        return classify(response.status_code, response.headers, response.content,
                        self.format.check_body)

    def _delivered(self, message: Message, attempts: int) -> None:
        self.ledger.record(message, "delivered", attempts, "ok")
        self.stats.alerts += len(message.alerts)
        self.stats.messages += 1
        self.stats.digests += message.is_digest
        self.last_error = None

    def _dead(self, message: Message, attempts: int, detail: str) -> None:
        self.ledger.record(message, "dead", attempts, detail)
        self.stats.dead += len(message.alerts)
        log.error("webhook %s: %d alerts dead-lettered after %d attempts: %s",
                  self.webhook.name, len(message.alerts), attempts, detail)


def enqueue(queue: Spool, alerts: Sequence[Event], now: float) -> None:
    """Append ``alerts`` to a target's queue, with the time they were queued."""
    queue.append([{"queued_at": now, "alert": alert} for alert in alerts])


def _unwrap(record: Event, now: float) -> tuple[Event | None, float]:
    """The alert of a queue record and when it was queued. The queue's own alert (it is full)
    comes unwrapped; its own weird events (a torn record) are not alerts."""
    if isinstance(record.get("alert"), dict):
        return record["alert"], float(record.get("queued_at", now))
    if record.get("event", {}).get("kind") == "alert":
        return record, now
    return None, now


def _id(alert: Event) -> str:
    return str(alert.get("event", {}).get("id", ""))


def _unique(alerts: list[Event]) -> list[Event]:
    seen: dict[str, Event] = {}
    for alert in alerts:
        seen.setdefault(_id(alert), alert)
    return list(seen.values())


def open_delivery(webhook: WebhookSettings, folder: Path, *, max_bytes: int,
                  segment_bytes: int, observer: str) -> WebhookDelivery:
    """The delivery to ``webhook`` from its folder: ``queue/`` (a spool lane of its own per
    process) and ``deliveries.db``."""
    from pipelines.spool import open_spool

    queue = open_spool(folder / "queue", max_bytes=max_bytes, segment_bytes=segment_bytes,
                       observer=observer)
    return WebhookDelivery(webhook, queue, Ledger(folder / "deliveries.db"))
