"""Each rule's own examples: ``<rule>.tests.yml`` beside the rule, run by ``liaowang rules test``.

An examples file has two lists, ``match`` (cases that must raise the rule's alert) and
``no_match`` (cases that must not), and optionally ``lists``, the values of the configuration
lists (``detection.lists``) the rule names, as a site would set them. A case is one event, a
list of events, or a mapping
``{events: [...], repeat: N, every_s: S, vary: {field: first}}`` that repeats its events N
times, S seconds apart, with ``field`` counting up from ``first`` (a number, or an IPv4 address
whose last byte counts). Events may be written with dotted keys and leave out what every event
has: the dataset (the rule's ``logsource.service``), kind, id, observer and ``@timestamp``
(one second apart from 2024-01-01). Alerts the examples raise must validate against the schema.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from detection.sigma.detector import SigmaDetector
from detection.sigma.fields import Event, field_path, unflatten
from detection.sigma.loader import EXAMPLES_SUFFIX, AnyRule, RulePack, rule_key
from detection.sigma.locate import RuleProblem
from liaowang.events import event_id, iso_timestamp, parse_timestamp
from liaowang.schema import validate

START_US = parse_timestamp("2024-01-01T00:00:00Z")


@dataclass(frozen=True, slots=True)
class ExampleReport:
    rules: int
    cases: int
    failures: list[RuleProblem]


def examples_path(rule_path: Path) -> Path:
    return rule_path.with_name(rule_path.name.rsplit(".", 1)[0] + EXAMPLES_SUFFIX)


def run_examples(pack: RulePack) -> ExampleReport:
    """Run the examples of every rule in ``pack``; a rule without examples is a failure."""
    rules, cases, failures = 0, 0, []
    for rule in [*pack.rules, *pack.correlations]:
        path = examples_path(pack.source_of(rule).path)
        if not path.exists():
            failures.append(RuleProblem(str(pack.source_of(rule).path), None,
                                        f"no examples: {path.name} is missing"))
            continue
        rules += 1
        lists = _lists(path)
        for case in _cases(path):
            cases += 1
            failures += _run_case(pack, rule, path, case, lists)
    return ExampleReport(rules, cases, failures)


@dataclass(frozen=True, slots=True)
class _Case:
    expected: bool
    index: int
    line: int
    body: Any


def _cases(path: Path) -> Iterator[_Case]:
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.CSafeLoader)
    data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    for section, expected in (("match", True), ("no_match", False)):
        nodes = _section_nodes(root, section)
        for index, body in enumerate(data.get(section) or []):
            line = nodes[index].start_mark.line + 1 if index < len(nodes) else 1
            yield _Case(expected, index, line, body)


def _section_nodes(root: yaml.Node | None, section: str) -> list[yaml.Node]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == section and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return []


def _lists(path: Path) -> dict[str, list[Any]]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    return dict(data.get("lists") or {})


def _run_case(pack: RulePack, rule: AnyRule, path: Path, case: _Case,
              lists: dict[str, list[Any]]) -> list[RuleProblem]:
    detector = SigmaDetector(_subset(pack, rule), lists=lists)
    problems = list(detector.problems)
    events = _events(case.body, _dataset(rule), f"{path.name}:{case.index}")
    alerts = [a for a in detector.process(events) if a["rule"]["id"] == rule_key(rule)]
    where = f"{'match' if case.expected else 'no_match'}[{case.index}]"
    if bool(alerts) != case.expected:
        got = f"{len(alerts)} alert(s)" if alerts else "no alert"
        problems.append(RuleProblem(str(path), case.line,
                                    f"rule '{rule.title}' example {where}: got {got}"))
    # The examples may leave out fields the rule does not look at: only what the alert adds
    # is checked here (the test suite validates whole alerts raised on real captures).
    known = {issue for event in events for issue in validate(event)}
    for alert in alerts:
        problems += [RuleProblem(str(path), case.line, f"example {where}: alert: {issue}")
                     for issue in validate(alert) if issue not in known]
    return problems


def _subset(pack: RulePack, rule: AnyRule) -> RulePack:
    """A pack of ``rule`` alone, or of a correlation with the rules it refers to."""
    if isinstance(rule, SigmaCorrelationRule):
        members = [ref.rule for ref in rule.referenced_rules if isinstance(ref.rule, SigmaRule)]
        return RulePack(rules=members, correlations=[rule], sources=pack.sources)
    return RulePack(rules=[rule], sources=pack.sources)


def _dataset(rule: AnyRule) -> str | None:
    if isinstance(rule, SigmaCorrelationRule):
        members = [ref.rule for ref in rule.referenced_rules]
        return _dataset(members[0]) if members else None
    return rule.logsource.service


def _events(body: Any, dataset: str | None, name: str) -> list[Event]:
    if isinstance(body, dict) and "events" in body:
        raw = _repeated(body)
    else:
        raw = body if isinstance(body, list) else [body]
    return [_complete(unflatten(event), dataset, f"{name}:{i}", i) for i, event in enumerate(raw)]


def _repeated(body: dict[str, Any]) -> list[Event]:
    events, every_s = [], float(body.get("every_s", 1))
    for round_ in range(int(body.get("repeat", 1))):
        for event in body["events"]:
            event = unflatten(event)
            for name, first in (body.get("vary") or {}).items():
                _set(event, name, _nth(first, round_))
            event.setdefault("@timestamp", iso_timestamp(START_US + int(
                round_ * every_s * 1_000_000)))
            events.append(event)
    return events


def _nth(first: Any, n: int) -> Any:
    if isinstance(first, int):
        return first + n
    return str(ipaddress.ip_address(first) + n)


def _set(event: Event, name: str, value: Any) -> None:
    *parents, last = field_path(name)
    node = event
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _complete(event: Event, dataset: str | None, name: str, index: int) -> Event:
    meta = event.setdefault("event", {})
    meta.setdefault("kind", "event")
    meta.setdefault("dataset", dataset)
    meta.setdefault("id", event_id("example", name))
    event.setdefault("observer", {"name": "examples"})
    event.setdefault("@timestamp", iso_timestamp(START_US + index * 1_000_000))
    return event


__all__ = ["ExampleReport", "examples_path", "run_examples"]
