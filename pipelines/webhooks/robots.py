"""What the chat robots (DingTalk, WeCom, Feishu) share: signing with the robot's secret, and
replies that say 200 with an error code in the JSON body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection

import orjson

from pipelines.webhooks.base import BodyCheck, Outcome, Reply

RATE_LIMIT_WAIT_S = 60.0    # the robots count messages per minute


def hmac_base64(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def error_code_check(code_keys: tuple[str, ...], message_keys: tuple[str, ...],
                     retry_codes: Collection[int]) -> BodyCheck:
    """A body check for replies like ``{"errcode": 0, "errmsg": "ok"}``: code 0 is delivered,
    a rate-limit code is retried after a minute, any other code is refused."""

    def check(body: bytes) -> Reply:
        try:
            reply = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Reply(Outcome.REFUSED, f"not a robot reply: {body[:200]!r}")
        if not isinstance(reply, dict):
            return Reply(Outcome.REFUSED, f"not a robot reply: {body[:200]!r}")
        code = next((reply[key] for key in code_keys if key in reply), None)
        text = next((reply[key] for key in message_keys if key in reply), "")
        if code == 0:
            return Reply(Outcome.DELIVERED, "ok")
        if code in retry_codes:
            return Reply(Outcome.RETRY, f"robot error {code}: {text}", RATE_LIMIT_WAIT_S)
        return Reply(Outcome.REFUSED, f"robot error {code}: {text}")

    return check
