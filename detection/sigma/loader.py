"""Loading rule files: one Sigma rule per YAML file, every problem located and collected.

A file that is not YAML, holds more than one document, or a rule pySigma refuses is reported as
a :class:`RuleProblem` (``path:line: reason``) and left out; the other rules load all the same.
Files named ``*.tests.yml`` hold a rule's examples, not rules.

>>> pack = load_pack([SHIPPED_RULES])
>>> len(pack.rules) > 10 and not [p for p in pack.problems if p.severity == "error"]
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.policy.profiles import TrustedPolicy
from sigma.rule import SigmaRule

import signatures
from detection.sigma.locate import RuleProblem, RuleSource, error_line, error_reason

SHIPPED_RULES = Path(signatures.__file__).parent
EXAMPLES_SUFFIX = ".tests.yml"

AnyRule = SigmaRule | SigmaCorrelationRule


def rule_key(rule: AnyRule) -> str:
    """The id a rule is known by: its UUID, else its name, else its title."""
    return str(rule.id or rule.name or rule.title)


@dataclass(slots=True)
class RulePack:
    """The rules that loaded, the correlations whose references resolved, and the problems."""

    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    sources: dict[str, RuleSource] = field(default_factory=dict)

    def source_of(self, rule: AnyRule) -> RuleSource:
        return self.sources[rule_key(rule)]

    @property
    def errors(self) -> list[RuleProblem]:
        return [problem for problem in self.problems if problem.severity == "error"]


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files named by ``paths`` (directories are searched recursively)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = [*path.rglob("*.yml"), *path.rglob("*.yaml")]
            files += sorted(p for p in found if not p.name.endswith(EXAMPLES_SUFFIX))
        else:
            files.append(path)
    return files


def load_pack(paths: Sequence[str | Path]) -> RulePack:
    """Every rule of ``paths``; what cannot be used is in ``problems``."""
    pack = RulePack()
    for path in rule_files(paths):
        _load_file(pack, path)
    _resolve_correlations(pack)
    return pack


def _load_file(pack: RulePack, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
        documents = [doc for doc in yaml.compose_all(text, Loader=yaml.CSafeLoader)
                     if doc is not None]
    except OSError as exc:
        pack.problems.append(RuleProblem(str(path), None, exc.strerror or str(exc)))
        return
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        pack.problems.append(RuleProblem(str(path), mark.line + 1 if mark else None, reason))
        return
    if len(documents) != 1:
        line = documents[1].start_mark.line + 1 if len(documents) > 1 else None
        pack.problems.append(RuleProblem(str(path), line, "a rule file holds exactly one rule"))
        return
    _add_rule(pack, RuleSource(path, documents[0]), text)


def _add_rule(pack: RulePack, source: RuleSource, text: str) -> None:
    # pySigma's from_yaml would parse the text again with PyYAML's pure-Python loader
    document = yaml.load(text, Loader=yaml.CSafeLoader)
    collection = SigmaCollection.from_dicts(
        [document], collect_errors=True, source=SigmaRuleLocation(source.path),
        resolve_references=False, policy=TrustedPolicy)
    errors = list(collection.errors)
    if errors or not collection.rules:
        reasons = errors or [SigmaError("not a Sigma rule (no detection or correlation)")]
        pack.problems += [source.problem(error_reason(e), error_line(source, e)) for e in reasons]
        return
    rule = collection.rules[0]
    known = pack.sources.get(rule_key(rule))
    if known is not None:
        pack.problems.append(source.problem(
            f"rule id {rule_key(rule)} is already used by {known.path}", source.line_of("id")))
        return
    pack.sources[rule_key(rule)] = source
    if isinstance(rule, SigmaCorrelationRule):
        pack.correlations.append(rule)
    else:
        pack.rules.append(rule)


def _resolve_correlations(pack: RulePack) -> None:
    """Link each correlation to the rules it names; one that names a missing rule is dropped."""
    collection = SigmaCollection(init_rules=list(pack.rules), resolve_references=False)
    resolved = []
    for correlation in pack.correlations:
        source = pack.source_of(correlation)
        try:
            correlation.resolve_rule_references(collection)
        except SigmaError as exc:
            pack.problems.append(source.problem(error_reason(exc), error_line(source, exc)))
            continue
        resolved.append(correlation)
    pack.correlations = resolved
