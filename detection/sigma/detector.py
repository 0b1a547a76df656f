"""The signature detector: Sigma rules over every event, alerts out.

Rules are compiled once and filed by dataset (``logsource.service`` is ``event.dataset``) and
by the values they require; a rule that a correlation refers to feeds that correlation and
raises no alert of its own unless the correlation says ``generate: true``. Per-rule tuning
(by rule id or title): ``disabled`` silences the rule's own alerts, ``severity`` overrides its
level, ``suppress_s`` drops repeats of the same rule for the same key (source and destination,
or the correlation's group) within that many seconds of event time, ``exceptions`` drop alerts
whose triggering event matches one of their field filters (:mod:`detection.sigma.exceptions`).
:meth:`SigmaDetector.adopt_state` carries correlation windows over a reload. A rule may set its own
default ``suppress_s`` (a custom top-level attribute) for actions that come in bursts.

>>> detector = SigmaDetector.load()
>>> stop = {"@timestamp": "2014-04-16T10:29:38.422052Z", "observer": {"name": "tap"},
...         "event": {"kind": "event", "dataset": "s7comm", "id": "e1"},
...         "s7comm": {"protocol": "s7comm", "rosctr": 1, "function": 41}}
>>> [alert["rule"]["name"] for alert in detector.process([stop])]
['S7comm PLC stop request']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from detection.base import Placed, alerts_of
from detection.sigma.alerts import Evidence, RuleInfo, make_alert
from detection.sigma.compiler import Predicate, UnsupportedRule, compile_rule
from detection.sigma.correlation import Correlation, compile_correlation, match_of
from detection.sigma.exceptions import EventTest, compile_exceptions
from detection.sigma.fields import Event, event_time_us
from detection.sigma.index import DatasetIndex, requirements
from detection.sigma.lists import Lists, expand_lists
from detection.sigma.loader import SHIPPED_RULES, RulePack, load_pack, rule_key
from detection.sigma.locate import RuleProblem

MAX_SUPPRESSED_KEYS = 100_000


class Tuning(Protocol):
    """Per-rule settings (``liaowang.config.RuleTuning`` has this shape)."""

    disabled: bool
    severity: int | None
    suppress_s: float | None
    exceptions: Sequence[Mapping[str, Any]]


@dataclass(eq=False, slots=True)
class CompiledRule:
    key: str
    info: RuleInfo
    matches: Predicate
    dataset: str | None
    alerting: bool
    suppress_s: float | None = None
    feeds: list[CompiledCorrelation] = field(default_factory=list)
    excepted: EventTest | None = None


@dataclass(eq=False, slots=True)
class CompiledCorrelation:
    info: RuleInfo
    state: Correlation
    alerting: bool
    suppress_s: float | None = None
    excepted: EventTest | None = None
    definition: str = ""  # what the window depends on: a reload keeps the window if unchanged


class Suppressor:
    """Remembers when each (rule, key) last alerted, in event time, for a bounded set of keys."""

    def __init__(self, max_keys: int = MAX_SUPPRESSED_KEYS) -> None:
        self.max_keys = max_keys
        self._last: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    def allows(self, key: tuple[Any, ...], now_us: int, window_s: float) -> bool:
        last = self._last.pop(key, None)
        if last is not None and 0 <= now_us - last < window_s * 1_000_000:
            self._last[key] = last
            return False
        self._last[key] = now_us
        if len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return True


class SigmaDetector:
    """The detector contract (:mod:`detection.base`) over a pack of Sigma rules."""

    def __init__(self, pack: RulePack, tuning: Mapping[str, Tuning] | None = None,
                 lists: Lists | None = None) -> None:
        self.problems: list[RuleProblem] = list(pack.problems)
        self._tuning = dict(tuning or {})
        self._lists = dict(lists or {})  # detection.lists, for rules' %placeholders%
        self._silenced: set[str] = set()  # rules that only feed correlations
        self._correlations: dict[str, CompiledCorrelation] = {}
        correlations = self._compile_correlations(pack)
        rules = self._compile_rules(pack, correlations)
        self.rule_count = len(rules) + len({id(c) for cs in correlations.values() for c in cs})
        self._datasets = _index(rules)
        self._suppressor = Suppressor()

    @classmethod
    def load(cls, paths: Sequence[str | Path] | None = None,
             tuning: Mapping[str, Tuning] | None = None,
             lists: Lists | None = None) -> SigmaDetector:
        """The rules of ``paths`` (default: the shipped pack), broken ones reported and skipped."""
        return cls(load_pack(paths or [SHIPPED_RULES]), tuning, lists)

    def process(self, events: Sequence[Event]) -> list[Event]:
        """The alerts of :meth:`place`, without their places."""
        return alerts_of(self.place(events))

    def place(self, events: Sequence[Event]) -> list[Placed]:
        alerts: list[Placed] = []
        for index, event in enumerate(events):
            meta = event.get("event")
            if type(meta) is not dict or meta.get("kind") == "alert":
                continue
            rules = self._datasets.get(meta.get("dataset"))
            if rules is None:
                continue
            for rule in rules.candidates(event):
                if rule.matches(event):
                    alerts += [(index, alert) for alert in self._matched(rule, event)]
        return alerts

    def finish(self) -> list[Event]:
        """Nothing: in-stream correlations complete on an event, never on the end of input."""
        return []

    def _matched(self, rule: CompiledRule, event: Event) -> list[Event]:
        alerts = []
        if rule.alerting:
            key = (rule.key, _endpoint(event, "source"), _endpoint(event, "destination"))
            alerts += self._alert(rule.info, event, [Evidence.of(event)], key, rule.suppress_s,
                                  rule.excepted)
        if not rule.feeds:
            return alerts
        seen = match_of(event)
        for correlation in rule.feeds:
            done = correlation.state.observe(rule.key, event, seen)
            if done is not None and correlation.alerting:
                key = (correlation.info.id, *done.group)
                alerts += self._alert(correlation.info, done.trigger, done.evidence, key,
                                      correlation.suppress_s, correlation.excepted)
        return alerts

    def _alert(self, info: RuleInfo, trigger: Event, evidence: list[Evidence],
               key: tuple[Any, ...], suppress_s: float | None,
               excepted: EventTest | None = None) -> list[Event]:
        """The alert, or none when an exception or the suppression window holds it back."""
        if excepted is not None and excepted(trigger):
            return []
        if suppress_s and not self._suppressor.allows(
                key, event_time_us(trigger), suppress_s):
            return []
        return [make_alert(info, trigger, evidence)]

    def adopt_state(self, previous: SigmaDetector) -> int:
        """Take over the windows of ``previous``'s correlations that this detector has too,
        unchanged (same id, type, members, grouping, timespan and condition), and its memory of
        suppressed repeats, so a reload loses no state that still means the same; returns how
        many windows were kept."""
        kept = 0
        for key, compiled in self._correlations.items():
            old = previous._correlations.get(key)
            if old is not None and old.definition == compiled.definition:
                compiled.state = old.state
                kept += 1
        self._suppressor = previous._suppressor
        return kept

    def _exceptions_of(self, rule: SigmaRule | SigmaCorrelationRule) -> EventTest | None:
        tuning = self._tuning_of(rule)
        return compile_exceptions(getattr(tuning, "exceptions", ()) or ())

    def _tuning_of(self, rule: SigmaRule | SigmaCorrelationRule) -> Tuning | None:
        for name in (rule_key(rule), rule.name, rule.title):
            if name and name in self._tuning:
                return self._tuning[name]
        return None

    def _info(self, rule: SigmaRule | SigmaCorrelationRule) -> tuple[RuleInfo, bool, float | None]:
        tuning = self._tuning_of(rule)
        default_suppress = rule.custom_attributes.get("suppress_s")
        if tuning is None:
            return RuleInfo.of(rule), True, default_suppress
        suppress_s = default_suppress if tuning.suppress_s is None else tuning.suppress_s
        return RuleInfo.of(rule, tuning.severity), not tuning.disabled, suppress_s

    def _compile_correlations(self, pack: RulePack) -> dict[str, list[CompiledCorrelation]]:
        """Compiled correlations, listed under each rule they refer to."""
        feeds: dict[str, list[CompiledCorrelation]] = {}
        for rule in pack.correlations:
            members = [rule_key(ref.rule) for ref in rule.referenced_rules]
            try:
                state = compile_correlation(rule, members)
            except UnsupportedRule as exc:
                self._report(pack, rule, exc, ("correlation",))
                continue
            info, alerting, suppress_s = self._info(rule)
            definition = repr((rule.to_dict().get("correlation"), members))
            compiled = CompiledCorrelation(info, state, alerting, suppress_s,
                                           self._exceptions_of(rule), definition)
            self._correlations[rule_key(rule)] = compiled
            for member in dict.fromkeys(members):
                feeds.setdefault(member, []).append(compiled)
            if not rule.generate:
                self._silenced.update(members)
        return feeds

    def _compile_rules(self, pack: RulePack, feeds: dict[str, list[CompiledCorrelation]]
                       ) -> list[tuple[CompiledRule, Any]]:
        compiled = []
        for rule in pack.rules:
            try:
                expanded = expand_lists(rule, self._lists)
                matches = compile_rule(expanded)
            except UnsupportedRule as exc:
                self._report(pack, rule, exc, ("detection",))
                continue
            info, alerting, suppress_s = self._info(rule)
            key = rule_key(rule)
            alerting = alerting and key not in self._silenced
            entry = CompiledRule(key, info, matches, rule.logsource.service, alerting,
                                 suppress_s, feeds.get(key, []), self._exceptions_of(rule))
            compiled.append((entry, requirements(expanded)))
        return compiled

    def _report(self, pack: RulePack, rule: SigmaRule | SigmaCorrelationRule,
                exc: UnsupportedRule, section: tuple[str, ...]) -> None:
        source = pack.source_of(rule)
        keys = exc.keys if exc.keys[0] == section[0] else section
        line = source.line_of_token(exc.field, *keys) if exc.field else source.line_of(*keys)
        severity = getattr(exc, "severity", "error")
        self.problems.append(source.problem(f"{exc} (rule skipped)", line, severity))


def _index(rules: list[tuple[CompiledRule, Any]]) -> dict[str | None, DatasetIndex[CompiledRule]]:
    by_dataset: dict[str | None, list[tuple[CompiledRule, Any]]] = {}
    for entry in rules:
        by_dataset.setdefault(entry[0].dataset, []).append(entry)
    return {dataset: DatasetIndex(entries) for dataset, entries in by_dataset.items()}


def _endpoint(event: Event, side: str) -> Any:
    node = event.get(side)
    return node.get("ip") if type(node) is dict else None

