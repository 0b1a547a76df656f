"""Slack incoming webhook: Block Kit ``blocks`` (a header, the facts as section fields, a
context line) with ``text`` as the notification fallback. Slack answers 200 ``ok``, 4xx for a
bad payload or a removed hook, 429 with ``Retry-After`` when rate limited."""

from __future__ import annotations

from typing import Any

import orjson

from liaowang.config import WebhookSettings
from pipelines.webhooks import text
from pipelines.webhooks.base import Format, Message, Request

HEADER_CHARS = 150      # Block Kit's limits
SECTION_CHARS = 3000
FIELD_CHARS = 2000
FIELDS = 10


def render(message: Message, webhook: WebhookSettings, now: float) -> Request:
    title = text.title(message)
    body = {"text": title,
            "blocks": [_header(title), _section(message), _context(message)]}
    return Request(webhook.url, orjson.dumps(body),
                   {"Content-Type": "application/json", **webhook.headers})


def _header(title: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_CHARS]}}


def _section(message: Message) -> dict[str, Any]:
    if message.is_digest:
        lines = "\n".join(text.digest_lines(message, SECTION_CHARS, bullet="• "))
        return {"type": "section", "text": {"type": "mrkdwn", "text": lines[:SECTION_CHARS]}}
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{value}"[:FIELD_CHARS]}
              for label, value in text.facts(message.alerts[0])]
    return {"type": "section", "fields": fields[:FIELDS]}


def _context(message: Message) -> dict[str, Any]:
    what = f"digest {message.key}" if message.is_digest else f"alert {message.key}"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Liaowang · {what}"}]}


FORMAT = Format("slack", render)
