"""What the formats and the delivery share: a message (one alert, or a digest of several), the
HTTP request a format renders from it, and the verdict on the reply."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from liaowang.config import WebhookSettings
from liaowang.events import event_id

Event = dict[str, Any]


class RenderError(Exception):
    """A message that a format cannot render (a template failing on this alert)."""


@dataclass(frozen=True, slots=True)
class Message:
    """Alerts sent together: one alert, or a digest of a burst. ``key`` names the message in
    the ``Idempotency-Key`` and the delivery ledger; ``queued_at`` is when its oldest alert was
    queued (Unix seconds), from which its age runs."""

    alerts: tuple[Event, ...]
    queued_at: float
    key: str = field(init=False)

    def __post_init__(self) -> None:
        ids = self.alert_ids
        key = ids[0] if len(ids) == 1 else "digest-" + event_id("digest", *sorted(ids))
        object.__setattr__(self, "key", key)

    @property
    def alert_ids(self) -> list[str]:
        return [alert_id(alert) for alert in self.alerts]

    @property
    def is_digest(self) -> bool:
        return len(self.alerts) > 1


def alert_id(alert: Event) -> str:
    return str(alert.get("event", {}).get("id", ""))


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: bytes
    headers: Mapping[str, str]


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"         # the target may take it later: connection, 5xx, 429, rate limit
    REFUSED = "refused"     # it never will as it is: dead-letter it at once


@dataclass(frozen=True, slots=True)
class Reply:
    outcome: Outcome
    detail: str
    retry_after: float | None = None    # seconds the target asked us to wait


Render = Callable[[Message, WebhookSettings, float], Request]
BodyCheck = Callable[[bytes], Reply]


@dataclass(frozen=True, slots=True)
class Format:
    """One message format: ``render(message, webhook, now)`` builds the request of one attempt
    (signatures are fresh each time); ``check_body`` judges a 2xx reply's body, for chat robots
    that answer 200 with an error code inside."""

    name: str
    render: Render
    check_body: BodyCheck | None = None


def classify(status: int, headers: Mapping[str, str], body: bytes,
             check_body: BodyCheck | None = None) -> Reply:
    """The verdict on an HTTP reply: 2xx delivered (unless the body says otherwise), 408, 429
    and 5xx worth retrying (after ``Retry-After`` when given), anything else refused."""
    if 200 <= status < 300:
        return check_body(body) if check_body else Reply(Outcome.DELIVERED, f"HTTP {status}")
    detail = f"HTTP {status}: {body[:200].decode(errors='replace')}".rstrip(": ")
    if status in (408, 429) or status >= 500:
        return Reply(Outcome.RETRY, detail, retry_after_s(headers.get("retry-after")))
    return Reply(Outcome.REFUSED, detail)


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    >>> retry_after_s("7"), retry_after_s(None), retry_after_s("soon")
    (7.0, None, None)
    >>> retry_after_s("Thu, 01 Jan 1970 00:01:40 GMT", now=90.0)
    10.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)
