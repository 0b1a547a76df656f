"""WeCom (企业微信) group robot: a ``markdown`` message of at most 4096 bytes; the robot key is
in the URL, there is no signature. The robot answers ``{"errcode": 0, "errmsg": "ok"}``; 45009
means over its rate limit (20 messages a minute)."""

from __future__ import annotations

import orjson

from liaowang.config import WebhookSettings
from pipelines.webhooks import text
from pipelines.webhooks.base import Format, Message, Request
from pipelines.webhooks.robots import error_code_check

MAX_CONTENT_BYTES = 4096
COLOURS = {4: "warning", 3: "warning", 2: "comment", 1: "info"}   # the robot's three colours


def render(message: Message, webhook: WebhookSettings, now: float) -> Request:
    body = {"msgtype": "markdown",
            "markdown": {"content": text.truncate_utf8(content(message), MAX_CONTENT_BYTES)}}
    return Request(webhook.url, orjson.dumps(body),
                   {"Content-Type": "application/json", **webhook.headers})


def content(message: Message) -> str:
    worst = max(map(text.severity, message.alerts))
    colour = COLOURS.get(worst, "warning")
    heading = f'## <font color="{colour}">{text.title(message)}</font>'
    lines = text.markdown(message, bullet="> ",
                          max_bytes=MAX_CONTENT_BYTES - len(heading.encode()) - 1)
    return "\n".join([heading, *lines])


FORMAT = Format("wecom", render,
                error_code_check(("errcode",), ("errmsg",), retry_codes={45009}))
