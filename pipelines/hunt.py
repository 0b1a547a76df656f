"""Retro-hunts: one Sigma rule over stored history.

The rule is converted to a Lucene query by pySigma's Elasticsearch backend, and that query
goes to :meth:`Store.search` on either backend (Elasticsearch translates it to its DSL, SQLite
to parameterised SQL, both through :mod:`pipelines.query`). The store narrows the history down;
every event it returns is then checked with the same compiled predicate the live detector
uses, so a hunt lists only what the rule would have raised on, with Sigma's semantics. The
stores compare strings with case where Sigma does not, so an event that differs from the rule
only in the case of a value is missed (the analyzers write protocol names and codes in one
case). When the backend cannot express a rule, the store is asked for the rule's whole dataset
instead.

A correlation rule is hunted by fetching the events of every rule it refers to, oldest first,
and running them through a detector of the correlation alone: the matches are the alerts it
raises, as it would have raised them live.

Exceptions: :class:`HuntError` (unknown rule, broken rule file, bad time); store errors pass
through as :class:`~pipelines.store.base.StoreError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detection.sigma.compiler import Predicate, UnsupportedRule, compile_rule
from detection.sigma.detector import SigmaDetector
from detection.sigma.lists import Lists, expand_lists
from detection.sigma.loader import AnyRule, RulePack, load_pack, rule_key
from liaowang.events import iso_timestamp, parse_timestamp
from pipelines.query import parse_query
from pipelines.store.base import Event, QueryError, Store, TimeRange

PAGE_SIZE = 1000
MAX_SCANNED = 1_000_000  # events read from the store for one hunt, at most
_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class HuntError(ValueError):
    """A hunt that cannot run; ``str()`` says why."""


@dataclass(slots=True)
class HuntResult:
    """The matches (events, or alerts of a correlation), newest first, and what was done."""

    rule: AnyRule
    queries: list[str]
    matches: list[Event] = field(default_factory=list)
    scanned: int = 0
    truncated: bool = False


def find_rule(reference: str, pack_paths: Sequence[str | Path]) -> tuple[AnyRule, RulePack]:
    """The rule a file path, or a rule id, name or title of the pack, names."""
    path = Path(reference)
    if path.suffix in {".yml", ".yaml"} or path.is_file():
        pack = load_pack([path]) if not _in_pack(path, pack_paths) else load_pack(pack_paths)
        wanted = _rule_in_file(pack, path)
    else:
        pack = load_pack(pack_paths)
        wanted = _rule_named(pack, reference)
    if wanted is None:
        raise HuntError(f"unknown rule {reference!r}: no rule with that id, name or title in "
                        f"{', '.join(map(str, pack_paths))}")
    return wanted, pack


def _in_pack(path: Path, pack_paths: Sequence[str | Path]) -> bool:
    """Whether a rule file lies in the pack (a correlation then finds the rules it names)."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(Path(p).resolve()) for p in pack_paths)


def _rule_in_file(pack: RulePack, path: Path) -> AnyRule | None:
    problems = [p for p in pack.errors if Path(p.path).resolve() == path.resolve()]
    if problems:
        raise HuntError("; ".join(map(str, problems)))
    if not path.is_file():
        raise HuntError(f"{path}: no such rule file")
    for rule in [*pack.rules, *pack.correlations]:
        if pack.source_of(rule).path.resolve() == path.resolve():
            return rule
    return None


def _rule_named(pack: RulePack, name: str) -> AnyRule | None:
    for rule in [*pack.rules, *pack.correlations]:
        if name in (rule_key(rule), rule.name) or name.casefold() == rule.title.casefold():
            return rule
    return None


def time_bound(text: str, now: datetime | None = None) -> str:
    """An ISO 8601 time, or a span back from now (``30m``, ``24h``, ``7d``), as ISO text.

    >>> time_bound("24h", datetime(2026, 1, 2, tzinfo=UTC))
    '2026-01-01T00:00:00.000000Z'
    >>> time_bound("2026-01-01T10:00:00Z")
    '2026-01-01T10:00:00.000000Z'
    """
    relative = _RELATIVE.match(text.strip())
    if relative:
        span = timedelta(**{_UNITS[relative[2]]: int(relative[1])})
        moment = (now or datetime.now(UTC)) - span
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    try:
        return iso_timestamp(parse_timestamp(text))
    except (ValueError, OverflowError) as exc:
        raise HuntError(f"bad time {text!r}: expected ISO 8601 (2026-01-31T12:00:00Z) or a span "
                        "back from now (30m, 24h, 7d)") from exc


def hunt(store: Store, rule: AnyRule, pack: RulePack, when: TimeRange, size: int = 100,
         lists: Lists | None = None) -> HuntResult:
    """Up to ``size`` matches of ``rule`` in ``store`` within ``when``, newest first;
    ``lists`` are the configuration's lists (``detection.lists``) the rule may name."""
    if size < 1:
        raise HuntError(f"size must be at least 1, not {size}")
    if isinstance(rule, SigmaCorrelationRule):
        return _hunt_correlation(store, rule, pack, when, size, lists or {})
    result = HuntResult(rule, [store_query(rule, pack, lists or {})])
    matches = _predicate(rule, lists or {})
    for event in _scan(store, result, when):
        if matches(event):
            result.matches.append(event)
            if len(result.matches) >= size:
                break
    return result


def store_query(rule: SigmaRule, pack: RulePack, lists: Lists | None = None) -> str:
    """The Lucene query that narrows the store down to the rule's candidates."""
    scope = _scope(rule)
    try:
        converted = lucene_query(expand_lists(_fresh(rule, pack), lists or {}))
    except UnsupportedRule:  # a list the configuration lacks: _predicate says so
        converted = None
    if converted is None:
        return scope
    query = f"{scope} AND ({converted})"
    try:
        parse_query(query)
    except QueryError:  # a field or syntax the store does not know: the predicate decides
        return scope
    return query


def lucene_query(rule: SigmaRule) -> str | None:
    """pySigma's Lucene query of a rule (its conditions as alternatives), or None when the
    backend cannot express it."""
    try:
        from sigma.backends.elasticsearch import LuceneBackend
    except ImportError:  # not installed: the dataset narrows the history down instead
        return None
    try:
        queries = LuceneBackend().convert_rule(rule)
    except SigmaError:
        return None
    texts = [q for q in queries if isinstance(q, str) and q.strip()]
    return " OR ".join(f"({q})" for q in texts) if texts else None


def _fresh(rule: SigmaRule, pack: RulePack) -> SigmaRule:
    """The rule parsed again from its file: a rule that only feeds a correlation is marked so
    in the pack, and the backend would leave it out."""
    return SigmaRule.from_yaml(pack.source_of(rule).path.read_text(encoding="utf-8"))


def _scope(rule: SigmaRule) -> str:
    dataset = rule.logsource.service
    return f"event.kind:event AND event.dataset:{dataset}" if dataset else "event.kind:event"


def _predicate(rule: SigmaRule, lists: Lists) -> Predicate:
    try:
        return compile_rule(expand_lists(rule, lists))
    except UnsupportedRule as exc:
        raise HuntError(f"rule {rule.title!r} cannot be evaluated: {exc}") from exc


def _scan(store: Store, result: HuntResult, when: TimeRange) -> Iterator[Event]:
    """Every event of ``result``'s query, newest first, page by page, up to MAX_SCANNED."""
    cursor: str | None = None
    while True:
        page = store.search(result.queries[-1], when, PAGE_SIZE, cursor)
        for event in page.data:
            result.scanned += 1
            yield event
        cursor = page.cursor
        if cursor is None:
            return
        if result.scanned >= MAX_SCANNED:
            result.truncated = True
            return


def _hunt_correlation(store: Store, rule: SigmaCorrelationRule, pack: RulePack,
                      when: TimeRange, size: int, lists: Lists) -> HuntResult:
    members = [ref.rule for ref in rule.referenced_rules if isinstance(ref.rule, SigmaRule)]
    result = HuntResult(rule, [])
    found: dict[str, Event] = {}
    for member in members:
        part = hunt(store, member, pack, when, MAX_SCANNED, lists)
        result.queries += part.queries
        result.scanned += part.scanned
        result.truncated |= part.truncated or len(part.matches) >= MAX_SCANNED
        found.update((event["event"]["id"], event) for event in part.matches)
    events = sorted(found.values(), key=lambda e: (e["@timestamp"], e["event"]["id"]))
    subset = RulePack(rules=members, correlations=[rule], sources=pack.sources)
    detector = SigmaDetector(subset, lists=lists)
    alerts = [a for a in detector.process(events) if a["rule"]["id"] == rule_key(rule)]
    result.matches = alerts[::-1][:size]
    return result
