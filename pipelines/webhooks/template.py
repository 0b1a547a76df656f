"""The template format, for any other receiver: the body is the webhook's Jinja2 ``template``
rendered in a sandbox with ``alert`` (the first alert), ``alerts`` (all of them), ``digest``
(whether there are several), ``webhook`` (its name) and ``now`` (ISO time); ``tojson`` quotes
values for JSON. Requests are signed and keyed like the generic format's; the content type is
JSON unless ``headers`` say otherwise.

>>> from liaowang.config import WebhookSettings
>>> hook = WebhookSettings(name="t", url="http://x/", format="template",
...                        template='{"text": {{ alert.rule.name | tojson }}}')
>>> render(Message(({"event": {"id": "a"}, "rule": {"name": "PLC stop"}},), 0.0), hook, 0).body
b'{"text": "PLC stop"}'
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from liaowang.config import WebhookSettings
from liaowang.events import iso_timestamp
from pipelines.webhooks.base import Format, Message, RenderError, Request
from pipelines.webhooks.generic import signed_headers


def render(message: Message, webhook: WebhookSettings, now: float) -> Request:
    try:
        body = compiled(webhook.template or "").render(
            alert=message.alerts[0], alerts=list(message.alerts), digest=message.is_digest,
            webhook=webhook.name, now=iso_timestamp(int(now * 1_000_000))).encode()
    except TemplateError as exc:
        raise RenderError(f"template: {exc}") from exc
    return Request(webhook.url, body, signed_headers(message, webhook, body, now))


@lru_cache(maxsize=64)
def compiled(source: str) -> Template:
    return ImmutableSandboxedEnvironment(autoescape=False).from_string(source)


FORMAT = Format("template", render)
