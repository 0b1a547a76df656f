"""``liaowang rules lint``: everything wrong with a set of rule files, located, all at once.

Beyond what pySigma refuses and what the engine cannot evaluate, each check below is a small
function over one rule returning its problems: the log source must be Liaowang's and name a
dataset of the event schema, every field must be a field of the schema (a typo would otherwise
match nothing, silently), and a rule should carry an id, a level, a technique tag,
false-positive notes and examples.

>>> report = lint([SHIPPED_RULES])
>>> report.rules > 10, [str(p) for p in report.problems if p.severity == "error"]
(True, [])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from detection.sigma.alerts import RuleInfo
from detection.sigma.detector import SigmaDetector
from detection.sigma.examples import examples_path
from detection.sigma.lists import Lists, detection_items
from detection.sigma.loader import SHIPPED_RULES, AnyRule, RulePack, load_pack
from detection.sigma.locate import RuleProblem, RuleSource
from liaowang.schema import DATASETS, FIELDS

PRODUCT = "liaowang"


@dataclass(frozen=True, slots=True)
class LintReport:
    rules: int
    problems: list[RuleProblem]

    @property
    def errors(self) -> list[RuleProblem]:
        return [problem for problem in self.problems if problem.severity == "error"]


def lint(paths: Sequence[str | Path], lists: Lists | None = None) -> LintReport:
    """Every problem of the rules in ``paths``, sorted by file and line; a rule that needs a
    list ``lists`` (``detection.lists``) does not set gets a note."""
    pack = load_pack(paths)
    problems = list(SigmaDetector(pack, lists=lists).problems)
    for rule in [*pack.rules, *pack.correlations]:
        source = pack.source_of(rule)
        for check in CHECKS:
            problems += check(rule, source)
    problems.sort(key=lambda p: (p.path, p.line or 0))
    return LintReport(len(pack.rules) + len(pack.correlations), problems)


Check = Callable[[AnyRule, RuleSource], list[RuleProblem]]


def check_logsource(rule: AnyRule, source: RuleSource) -> list[RuleProblem]:
    if not isinstance(rule, SigmaRule):
        return []
    line = source.line_of("logsource")
    problems = []
    if rule.logsource.product != PRODUCT:
        problems.append(source.problem(f"logsource.product must be '{PRODUCT}'", line))
    if rule.logsource.service not in DATASETS:
        problems.append(source.problem(
            f"logsource.service '{rule.logsource.service}' is not a dataset "
            f"(one of {', '.join(sorted(DATASETS))})", line))
    return problems


def check_fields(rule: AnyRule, source: RuleSource) -> list[RuleProblem]:
    names = _rule_fields(rule) if isinstance(rule, SigmaRule) else _correlation_fields(rule)
    return [source.problem(f"unknown field '{name}' (not in the event schema)",
                           source.line_of_token(name, *section))
            for name, section in names if name not in FIELDS]


def _rule_fields(rule: SigmaRule) -> Iterator[tuple[str, tuple[str, ...]]]:
    for detection in rule.detection.detections.values():
        for item in detection_items(detection):
            if item.field:
                yield item.field, ("detection",)

def _correlation_fields(rule: SigmaCorrelationRule) -> Iterator[tuple[str, tuple[str, ...]]]:
    aliases = {alias.alias for alias in rule.aliases}
    for name in rule.group_by or []:
        if name not in aliases:
            yield name, ("correlation", "group-by")
    fieldref = getattr(rule.condition, "fieldref", None)
    if isinstance(fieldref, str):
        yield fieldref, ("correlation", "condition")


def check_metadata(rule: AnyRule, source: RuleSource) -> list[RuleProblem]:
    problems = []
    if rule.id is None:
        problems.append(source.problem("the rule has no id (a UUID)", source.line_of("title")))
    if rule.level is None:
        problems.append(source.problem("the rule has no level", source.line_of("title")))
    if not RuleInfo.of(rule).techniques:
        problems.append(source.problem(
            "no technique tag (attack.t08xx for ICS, fight.fgtxxxx for 5G)",
            source.line_of("tags"), "warning"))
    if not rule.falsepositives:
        problems.append(source.problem("no falsepositives notes", source.line_of("title"),
                                       "warning"))
    return problems


def check_examples(rule: AnyRule, source: RuleSource) -> list[RuleProblem]:
    path = examples_path(source.path)
    if path.exists():
        return []
    return [source.problem(f"no examples ({path.name})", None, "warning")]


CHECKS: tuple[Check, ...] = (check_logsource, check_fields, check_metadata, check_examples)

__all__ = ["CHECKS", "SHIPPED_RULES", "LintReport", "RulePack", "lint"]
