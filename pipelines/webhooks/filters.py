"""Which alerts a webhook takes: ``min_severity``, then ``rules`` (an alert's rule id, name or
one of its tags) and ``datasets`` when they are given.

>>> from liaowang.config import WebhookSettings
>>> hook = WebhookSettings(name="soc", url="http://x/", min_severity=3, rules=["attack.t0881"])
>>> alert = {"event": {"kind": "alert", "severity": 4, "dataset": "s7comm"},
...          "rule": {"id": "r1", "tags": ["attack.t0881"]}}
>>> accepts(hook, alert), accepts(hook, {**alert, "rule": {"id": "r2"}})
(True, False)
"""

from __future__ import annotations

from liaowang.config import WebhookSettings
from liaowang.events import get_field
from pipelines.webhooks.base import Event
from pipelines.webhooks.text import severity


def is_alert(event: Event) -> bool:
    return get_field(event, "event.kind") == "alert"


def accepts(webhook: WebhookSettings, alert: Event) -> bool:
    if severity(alert) < webhook.min_severity:
        return False
    if webhook.datasets and get_field(alert, "event.dataset") not in webhook.datasets:
        return False
    return not webhook.rules or bool(rule_names(alert) & set(webhook.rules))


def rule_names(alert: Event) -> set[str]:
    names = {get_field(alert, "rule.id"), get_field(alert, "rule.name")}
    tags = get_field(alert, "rule.tags") or []
    return {str(name) for name in [*names, *tags] if name is not None}
