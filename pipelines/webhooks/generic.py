"""The generic format: the alert as ECS JSON, signed.

Headers: ``Idempotency-Key: <alert id>:<webhook name>`` (a digest has a key of its own) and, with
a ``secret``, ``X-Liaowang-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>." + body>``,
made afresh for every attempt so that receivers can refuse stale or replayed requests by time.
A digest is ``{"digest": {...}, "alerts": [...]}``.

>>> signature("key", b"{}", 1700000000)
't=1700000000,v1=...'
>>> verify("key", b"{}", signature("key", b"{}", 1700000000), now=1700000060)
True
>>> verify("key", b"{}", signature("key", b"{}", 1700000000), now=1700001000)
False
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from liaowang.config import WebhookSettings
from pipelines.webhooks.base import Format, Message, Request

SIGNATURE_HEADER = "X-Liaowang-Signature"


def render(message: Message, webhook: WebhookSettings, now: float) -> Request:
    body = orjson.dumps(message.alerts[0] if not message.is_digest else digest_body(message))
    return Request(webhook.url, body, signed_headers(message, webhook, body, now))


def digest_body(message: Message) -> dict:
    times = sorted(str(alert.get("@timestamp", "")) for alert in message.alerts)
    return {"digest": {"id": message.key, "count": len(message.alerts),
                       "first": times[0], "last": times[-1]},
            "alerts": list(message.alerts)}


def signed_headers(message: Message, webhook: WebhookSettings, body: bytes, now: float
                   ) -> dict[str, str]:
    """Content type (JSON unless the webhook's headers say otherwise), idempotency key, the
    webhook's own headers, and the signature."""
    headers = {"Content-Type": "application/json",
               "Idempotency-Key": f"{message.key}:{webhook.name}"}
    for name, value in webhook.headers.items():
        headers["Content-Type" if name.lower() == "content-type" else name] = value
    if webhook.secret is not None:
        headers[SIGNATURE_HEADER] = signature(webhook.secret.get_secret_value(), body, int(now))
    return headers


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, now: float, tolerance_s: float = 300.0
           ) -> bool:
    """What a receiver checks: the signature matches and is at most ``tolerance_s`` old."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    expected = signature(secret, body, timestamp).rsplit("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(expected, parts["v1"])


FORMAT = Format("generic", render)
