"""Feishu / Lark custom bot: an ``interactive`` card; with a signing secret, the body carries
``timestamp`` (seconds) and ``sign`` = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg="")).
The bot answers ``{"code": 0, "msg": "success"}`` (older bots ``StatusCode``); 9499 and 11232
mean too many requests."""

from __future__ import annotations

from typing import Any

import orjson

from liaowang.config import WebhookSettings
from pipelines.webhooks import text
from pipelines.webhooks.base import Format, Message, Request
from pipelines.webhooks.robots import error_code_check, hmac_base64

HEADER_COLOURS = {4: "red", 3: "orange", 2: "yellow", 1: "blue"}
MAX_CONTENT_BYTES = 20_000


def render(message: Message, webhook: WebhookSettings, now: float) -> Request:
    body: dict[str, Any] = {"msg_type": "interactive", "card": card(message)}
    if webhook.secret is not None:
        timestamp = str(int(now))
        body = {"timestamp": timestamp, "sign": sign(webhook.secret.get_secret_value(),
                                                      timestamp), **body}
    return Request(webhook.url, orjson.dumps(body),
                   {"Content-Type": "application/json", **webhook.headers})


def sign(secret: str, timestamp: str) -> str:
    return hmac_base64(f"{timestamp}\n{secret}", "")


def card(message: Message) -> dict[str, Any]:
    worst = max(map(text.severity, message.alerts))
    content = text.truncate_utf8("\n".join(text.markdown(message, max_bytes=MAX_CONTENT_BYTES)),
                                 MAX_CONTENT_BYTES)
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": text.title(message)},
                   "template": HEADER_COLOURS.get(worst, "red")},
        "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
    }


FORMAT = Format("feishu", render,
                error_code_check(("code", "StatusCode"), ("msg", "StatusMessage"),
                                 retry_codes={9499, 11232}))
