"""Alerts of Sigma rules: what a rule says about itself, and the alert event it raises.

An alert is a copy of the event that completed the match (endpoints, network, pcap, protocol
namespace), with ``event.kind: alert``, the rule, the severity and risk of its level, the threat
techniques of its tags and the ids and frames of every event that contributed.

>>> info = RuleInfo(id="r1", name="PLC stop", description="", tags=("attack.t0881",),
...                 severity=4, risk_score=99.0)
>>> info.framework, info.techniques
('MITRE ATT&CK for ICS', ('T0881',))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from liaowang.events import capture_of, event_id

Event = dict[str, Any]

LEVEL_SEVERITY = {"informational": 1, "low": 1, "medium": 2, "high": 3, "critical": 4}
# Risk scores of the levels, as Elastic's detection rules use them.
LEVEL_RISK = {"informational": 10.0, "low": 21.0, "medium": 47.0, "high": 73.0, "critical": 99.0}
SEVERITY_RISK = {1: 21.0, 2: 47.0, 3: 73.0, 4: 99.0}

# Of the triggering event's own ``event.*``: what its dataset needs (a flow's start and end).
_KEPT_EVENT_FIELDS = ("dataset", "start", "end", "duration")
_ATTACK_TECHNIQUE = re.compile(r"t\d{4}(\.\d{3})?")
_FIGHT_TECHNIQUE = re.compile(r"(fgt|t)\d{4}(\.\d{3})?")


class Evidence(NamedTuple):
    """What an alert keeps of a contributing event (a named tuple: correlations make one for
    every event they observe, and a frozen dataclass costs twice as much to build): its id,
    and its frame with the capture that frame counts in."""

    event_id: str
    frame: int | None
    capture: str | None = None

    @classmethod
    def of(cls, event: Event) -> Evidence:
        pcap = event.get("pcap")
        if type(pcap) is not dict:
            return cls(event["event"]["id"], None)
        return cls(event["event"]["id"], pcap.get("frame"), capture_of(event))


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    name: str
    description: str
    tags: tuple[str, ...]
    severity: int
    risk_score: float
    references: tuple[str, ...] = ()
    author: str | None = None
    framework: str | None = field(init=False)
    techniques: tuple[str, ...] = field(init=False)
    tactics: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        framework, techniques, tactics = _threat(self.tags)
        object.__setattr__(self, "framework", framework)
        object.__setattr__(self, "techniques", techniques)
        object.__setattr__(self, "tactics", tactics)

    @classmethod
    def of(cls, rule: SigmaRule | SigmaCorrelationRule, severity: int | None = None) -> RuleInfo:
        """What a parsed rule says about itself; ``severity`` overrides its level."""
        level = rule.level.name.lower() if rule.level else "medium"
        return cls(
            id=str(rule.id or rule.name or rule.title), name=rule.title,
            description=(rule.description or "").strip(),
            tags=tuple(f"{tag.namespace}.{tag.name}" for tag in rule.tags),
            severity=severity or LEVEL_SEVERITY[level],
            risk_score=SEVERITY_RISK[severity] if severity else LEVEL_RISK[level],
            references=tuple(rule.references), author=rule.author)


def _threat(tags: Sequence[str]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    frameworks, techniques, tactics = [], [], []
    for tag in tags:
        namespace, _, name = tag.lower().partition(".")
        if namespace == "attack" and _ATTACK_TECHNIQUE.fullmatch(name):
            techniques.append(name.upper())
            frameworks.append("MITRE ATT&CK for ICS" if name.startswith("t08") else "MITRE ATT&CK")
        elif namespace == "fight" and _FIGHT_TECHNIQUE.fullmatch(name):
            techniques.append(name.upper())
            frameworks.append("MITRE FiGHT")
        elif namespace == "attack" and not name.startswith(("g", "s")):
            tactics.append(name.replace("_", " ").replace("-", " ").title())
    return (frameworks[0] if frameworks else None), tuple(techniques), tuple(tactics)


def make_alert(info: RuleInfo, trigger: Event, evidence: Sequence[Evidence]) -> Event:
    """The alert ``info`` raises on ``trigger``, the event that completed the match."""
    # A copy, not shared parts: enrichment changes events in place before the sinks.
    alert = orjson.loads(orjson.dumps({k: v for k, v in trigger.items() if k != "event"}))
    source = trigger["event"]
    alert["event"] = {key: source[key] for key in _KEPT_EVENT_FIELDS if key in source}
    alert["event"].update(kind="alert", id=event_id(info.id, source["id"]),
                          severity=info.severity, risk_score=info.risk_score)
    alert["rule"] = _rule_fields(info)
    threat = _threat_fields(info)
    if threat:
        alert["threat"] = threat
    alert["evidence"] = {"event_ids": [item.event_id for item in evidence]}
    # frames name packets of the alert's own capture (export reads that one): an event of
    # another (a correlation across the files of a replay) is in the ids alone
    capture = capture_of(trigger)
    frames = [item.frame for item in evidence
              if item.frame is not None and item.capture == capture]
    if frames:
        alert["evidence"]["frames"] = frames
    return alert


def _rule_fields(info: RuleInfo) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": info.id, "name": info.name, "ruleset": "sigma",
                              "tags": list(info.tags)}
    if info.description:
        fields["description"] = info.description
    if info.references:
        fields["reference"] = list(info.references)
    if info.author:
        fields["author"] = info.author
    return fields


def _threat_fields(info: RuleInfo) -> dict[str, Any]:
    threat: dict[str, Any] = {}
    if info.framework:
        threat["framework"] = info.framework
    if info.techniques:
        threat["technique"] = {"id": list(info.techniques)}
    if info.tactics:
        threat["tactic"] = {"name": list(info.tactics)}
    return threat
