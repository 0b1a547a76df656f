"""DingTalk custom robot: a ``markdown`` message; with a signing secret, the URL gets
``timestamp`` (milliseconds) and ``sign`` = base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")),
URL-encoded. The robot answers ``{"errcode": 0, "errmsg": "ok"}``; 130101 means too fast."""

from __future__ import annotations

from urllib.parse import quote_plus

import orjson

from liaowang.config import WebhookSettings
from pipelines.webhooks import text
from pipelines.webhooks.base import Format, Message, Request
from pipelines.webhooks.robots import error_code_check, hmac_base64

MAX_TEXT_BYTES = 18_000     # the robot refuses messages over 20,000 bytes


def render(message: Message, webhook: WebhookSettings, now: float) -> Request:
    title = text.title(message)
    # Lines are joined by blank lines: the robot's markdown drops single line breaks.
    lines = text.markdown(message, max_bytes=MAX_TEXT_BYTES // 2)
    content = text.truncate_utf8("\n\n".join([f"### {title}", *lines]), MAX_TEXT_BYTES)
    body = {"msgtype": "markdown", "markdown": {"title": title, "text": content}}
    return Request(signed_url(webhook, now), orjson.dumps(body),
                   {"Content-Type": "application/json", **webhook.headers})


def signed_url(webhook: WebhookSettings, now: float) -> str:
    if webhook.secret is None:
        return webhook.url
    secret = webhook.secret.get_secret_value()
    timestamp = str(int(now * 1000))
    sign = quote_plus(hmac_base64(secret, f"{timestamp}\n{secret}"))
    separator = "&" if "?" in webhook.url else "?"
    return f"{webhook.url}{separator}timestamp={timestamp}&sign={sign}"


FORMAT = Format("dingtalk", render,
                error_code_check(("errcode",), ("errmsg",), retry_codes={130101}))
