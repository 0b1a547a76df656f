"""What every action builder shares: the address an action is aimed at, and its errors.

A builder takes the alert, the events related to it (its evidence and others of its flow) and
:class:`Options`, and returns a :class:`Plan`: the target, the JSON ``payload`` the operator's
automation receives, and ``artefacts`` (text to copy: firewall rules, ACLs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from liaowang.events import get_field

Event = dict[str, Any]
Side = Literal["source", "destination"]


class ActionError(ValueError):
    """An action that cannot be built for this alert; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Options:
    """``side``: which endpoint of the alert the action is aimed at."""

    side: Side = "source"
    quarantine_zone: str = "quarantine"


@dataclass(frozen=True, slots=True)
class Plan:
    target: dict[str, Any]
    payload: dict[str, Any]
    artefacts: dict[str, str] = field(default_factory=dict)


def target_address(alert: Event, side: Side) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The alert's ``side`` address; refused when it is missing or not a unicast host."""
    text = get_field(alert, f"{side}.ip")
    if not text:
        raise ActionError(f"the alert has no {side}.ip")
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError as exc:
        raise ActionError(f"{side}.ip is not an IP address: {text!r}") from exc
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        raise ActionError(f"{side}.ip {address} is not a single host that can be acted on")
    return address


def alert_summary(alert: Event) -> dict[str, Any]:
    """What a payload says about the alert behind it."""
    return {"id": get_field(alert, "event.id"), "rule": get_field(alert, "rule.name"),
            "rule_id": get_field(alert, "rule.id"), "severity": get_field(alert, "event.severity"),
            "timestamp": alert.get("@timestamp"), "dataset": get_field(alert, "event.dataset"),
            "observer": get_field(alert, "observer.name")}


def values(events: Sequence[Event], *fields: str) -> list[Any]:
    """The distinct values of ``fields`` in ``events`` (lists flattened), in order of appearance."""
    seen: dict[Any, None] = {}
    for event in events:
        for name in fields:
            value = get_field(event, name)
            for item in value if isinstance(value, list) else [value]:
                if item is not None and item != "":
                    seen.setdefault(item, None)
    return list(seen)
