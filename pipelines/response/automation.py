"""Sending an enforced action to the operator's automation (``response.automation``): the action
record as JSON, ``Idempotency-Key: <action id>`` and, with a secret, the same
``X-Liaowang-Signature`` as generic webhooks, so one receiver can check both."""

from __future__ import annotations

import time

import httpx
import orjson

from liaowang.config import AutomationSettings
from pipelines.webhooks.generic import SIGNATURE_HEADER, signature

Record = dict


def send(record: Record, automation: AutomationSettings,
         client: httpx.Client | None = None) -> tuple[bool, str]:
    """POST ``record``; (whether the automation took it with a 2xx, what happened)."""
    body = orjson.dumps(record)
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(record["id"])}
    if automation.secret is not None:
        headers[SIGNATURE_HEADER] = signature(automation.secret.get_secret_value(), body,
                                              int(time.time()))
    try:
        if client is None:
            response = httpx.post(automation.url, content=body, headers=headers,
                                  timeout=automation.timeout_s)
        else:
            response = client.post(automation.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return response.is_success, f"HTTP {response.status_code}"
