"""Every message format, by the name the configuration uses."""

from __future__ import annotations

from pipelines.webhooks import dingtalk, feishu, generic, slack, template, wecom
from pipelines.webhooks.base import Format

FORMATS: dict[str, Format] = {module.FORMAT.name: module.FORMAT for module in (
    generic, slack, dingtalk, wecom, feishu, template)}
