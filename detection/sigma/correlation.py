"""Sigma correlation rules over event time: counts, distinct values and sequences.

Each correlation keeps, per group-by key, the evidence of the recent matches of the rules it
refers to, within its timespan of event time (``@timestamp``, so a replayed capture behaves as
it did live). State is bounded: a group holds at most what its condition needs, idle groups
expire with the window, and the number of groups is capped (the oldest goes first). A group
that completes raises once and starts again empty.

Conditions that only the absence of events can prove (``lt``, ``lte``, ``eq``, ``neq``) are not
evaluated in-stream and are refused when the rule is compiled.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from detection.sigma.alerts import Evidence
from detection.sigma.compiler import UnsupportedRule
from detection.sigma.fields import Event, Getter, event_time_us, field_getter, group_key

MAX_GROUPS = 10_000
MAX_PARTIAL_SEQUENCES = 8


@dataclass(slots=True)
class Completion:
    """A correlation completed by ``trigger``, with the evidence of every contributing event."""

    trigger: Event
    evidence: list[Evidence]
    group: tuple[Any, ...]


@dataclass(slots=True)
class Match:
    ts_us: int
    evidence: Evidence


def match_of(event: Event) -> Match:
    """What a correlation keeps of an event a member rule matched: its time and evidence."""
    return Match(event_time_us(event), Evidence.of(event))


@dataclass(slots=True)
class _Group:
    last_us: int
    items: Any = None
    extra: Any = field(default=None)


class Correlation:
    """One correlation rule: ``observe`` each event a member rule matched."""

    def __init__(self, rule: SigmaCorrelationRule, members: list[str],
                 max_groups: int = MAX_GROUPS) -> None:
        self.members = members
        self.span_us = rule.timespan.seconds * 1_000_000
        self.max_groups = max_groups
        self._group_getters = _group_getters(rule, members)
        self._groups: OrderedDict[tuple[Any, ...], _Group] = OrderedDict()

    def observe(self, member: str, event: Event, seen: Match) -> Completion | None:
        """The completion ``event`` brings about, after ``member`` matched it; ``seen`` is its
        time and evidence (:func:`match_of`), made once for every correlation it feeds."""
        # Every flow passes here twice (port scan, host sweep): no helper calls in the loop.
        now, groups = seen.ts_us, self._groups
        key = group_key(self._group_getters[member], event)
        group = groups.pop(key, None)
        if group is None or now - group.last_us > self.span_us:
            group = _Group(now, self._new_state())
        elif now > group.last_us:     # events may come slightly out of order
            group.last_us = now
        evidence = self._update(group, member, seen, event)
        if evidence is None:
            groups[key] = group
        while groups:                 # expire idle groups, and the oldest beyond the cap
            oldest = next(iter(groups.values()))
            if now - oldest.last_us <= self.span_us and len(groups) <= self.max_groups:
                break
            groups.popitem(last=False)
        return Completion(event, evidence, key) if evidence is not None else None

    def _in_window(self, first_us: int, now: int) -> bool:
        return now - first_us <= self.span_us

    def _new_state(self) -> Any:
        raise NotImplementedError

    def _update(self, group: _Group, member: str, match: Match, event: Event
                ) -> list[Evidence] | None:
        raise NotImplementedError


def _group_getters(rule: SigmaCorrelationRule, members: list[str]
                   ) -> dict[str, tuple[Getter, ...]]:
    """Per member rule, the getters of the group-by fields (aliases resolved)."""
    aliases = {alias.alias: alias for alias in rule.aliases}
    getters = {}
    for member_rule, member in zip(_referenced(rule), members, strict=True):
        names = []
        for name in rule.group_by or []:
            alias = aliases.get(name)
            names.append(_alias_field(alias, member_rule) if alias else name)
        getters[member] = tuple(field_getter(name) for name in names)
    return getters


def _alias_field(alias: Any, member_rule: Any) -> str:
    for reference, name in alias.mapping.items():
        if reference.rule is member_rule:
            return str(name)
    raise UnsupportedRule(f"alias '{alias.alias}' names no field for one of the rules")


def _referenced(rule: SigmaCorrelationRule) -> list[Any]:
    return [reference.rule for reference in rule.referenced_rules]


def _threshold(rule: SigmaCorrelationRule) -> int:
    """How many matches (or distinct values) complete the condition."""
    condition = rule.condition
    op = getattr(condition, "op", None)
    if op is SigmaCorrelationConditionOperator.GTE:
        return int(condition.count)
    if op is SigmaCorrelationConditionOperator.GT:
        return int(condition.count) + 1
    raise UnsupportedRule("only gt and gte conditions can be evaluated in-stream",
                          keys=("correlation", "condition"))


class EventCount(Correlation):
    def __init__(self, rule: SigmaCorrelationRule, members: list[str],
                 max_groups: int = MAX_GROUPS) -> None:
        super().__init__(rule, members, max_groups)
        self.threshold = max(1, _threshold(rule))

    def _new_state(self) -> deque[Match]:
        return deque(maxlen=self.threshold)

    def _update(self, group: _Group, member: str, match: Match, event: Event
                ) -> list[Evidence] | None:
        matches: deque[Match] = group.items
        matches.append(match)
        since = match.ts_us - self.span_us
        while matches and matches[0].ts_us < since:
            matches.popleft()
        if len(matches) < self.threshold:
            return None
        return [item.evidence for item in matches]


class ValueCount(Correlation):
    def __init__(self, rule: SigmaCorrelationRule, members: list[str],
                 max_groups: int = MAX_GROUPS) -> None:
        super().__init__(rule, members, max_groups)
        self.threshold = max(1, _threshold(rule))
        fieldref = rule.condition.fieldref
        if not isinstance(fieldref, str):
            raise UnsupportedRule("value_count needs one condition field")
        self._value = field_getter(fieldref)

    def _new_state(self) -> dict[Any, Match]:
        # A plain dict, cheaper to update than an OrderedDict: it stays small (the group
        # completes at the threshold), so the holes its deletions leave are few to skip.
        return {}

    def _update(self, group: _Group, member: str, match: Match, event: Event
                ) -> list[Evidence] | None:
        value = self._value(event)
        if value is None:
            return None
        key = tuple(value) if type(value) is list else value
        values: dict[Any, Match] = group.items
        values.pop(key, None)
        values[key] = match
        since = match.ts_us - self.span_us
        while values:
            oldest = next(iter(values))
            if values[oldest].ts_us >= since:
                break
            del values[oldest]
        if len(values) < self.threshold:
            return None
        return [item.evidence for item in values.values()]


class Temporal(Correlation):
    """Every member rule matched within the timespan, in any order."""

    def _new_state(self) -> dict[str, Match]:
        return {}

    def _update(self, group: _Group, member: str, match: Match, event: Event
                ) -> list[Evidence] | None:
        latest: dict[str, Match] = group.items
        latest[member] = match
        for name in [n for n, m in latest.items() if not self._in_window(m.ts_us, match.ts_us)]:
            del latest[name]
        if len(latest) < len(set(self.members)):
            return None
        return [item.evidence for item in sorted(latest.values(), key=lambda m: m.ts_us)]


class TemporalOrdered(Correlation):
    """The member rules matched in the order listed, the whole sequence within the timespan."""

    def _new_state(self) -> deque[list[Match]]:
        return deque(maxlen=MAX_PARTIAL_SEQUENCES)

    def _update(self, group: _Group, member: str, match: Match, event: Event
                ) -> list[Evidence] | None:
        partials: deque[list[Match]] = group.items
        steps = [i for i, name in enumerate(self.members) if name == member]
        grown = [[*partial, match] for partial in partials
                 if len(partial) in steps and self._in_window(partial[0].ts_us, match.ts_us)]
        done = [sequence for sequence in grown if len(sequence) == len(self.members)]
        if done:
            return [item.evidence for item in done[0]]
        partials.extend(grown)
        if 0 in steps:
            partials.append([match])
        return None


_KINDS: dict[SigmaCorrelationType, type[Correlation]] = {
    SigmaCorrelationType.EVENT_COUNT: EventCount,
    SigmaCorrelationType.VALUE_COUNT: ValueCount,
    SigmaCorrelationType.TEMPORAL: Temporal,
    SigmaCorrelationType.TEMPORAL_ORDERED: TemporalOrdered,
}


def compile_correlation(rule: SigmaCorrelationRule, members: list[str],
                        max_groups: int = MAX_GROUPS) -> Correlation:
    """The in-stream state machine of a correlation whose member rules have ids ``members``."""
    kind = _KINDS.get(rule.type)
    if kind is None:
        raise UnsupportedRule(f"correlation type {rule.type.name.lower()} is not supported")
    if any(not hasattr(reference, "rule") for reference in rule.referenced_rules):
        raise UnsupportedRule("a referenced rule is not loaded")
    return kind(rule, members, max_groups)
