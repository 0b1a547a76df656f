"""The signature rules as the console shows them: what each is, and whether it is on.

The catalog reads the configured pack (``detection.rules_path``, else the shipped one) and keeps
it until a rule file changes. A rule is on unless the console switched it off (the overrides
file, :mod:`detection.sigma.overrides`) or, without a switch, the configuration disables it.

>>> from liaowang.config import Settings
>>> catalog = RuleCatalog(Settings())
>>> stop = [r for r in catalog.rules() if r.title == "S7comm PLC stop request"][0]
>>> stop.dataset, stop.level, "T0881" in stop.techniques, stop.enabled
('s7comm', 'critical', True, True)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule

from detection.sigma.alerts import RuleInfo
from detection.sigma.loader import SHIPPED_RULES, AnyRule, RulePack, load_pack, rule_files, rule_key
from detection.sigma.overrides import read_overrides, set_enabled, tuning_of
from liaowang.config import Settings

Stamps = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class RuleSummary:
    id: str
    name: str | None
    title: str
    description: str
    level: str
    dataset: str | None
    correlation: bool
    tags: tuple[str, ...]
    techniques: tuple[str, ...]
    enabled: bool


class RuleCatalog:
    """The configured rules, read again when a rule file changes."""

    def __init__(self, settings: Settings) -> None:
        detection = settings.detection
        self.paths = [Path(detection.rules_path or SHIPPED_RULES)]
        self.overrides_file = Path(detection.overrides_file)
        self._tuning = detection.rules
        self._lock = threading.Lock()
        self._pack: RulePack | None = None
        self._stamps: Stamps = ()

    def rules(self) -> list[RuleSummary]:
        """Every rule that loaded, by title."""
        pack, switches = self._current(), read_overrides(self.overrides_file)
        rules = [self._summary(rule, switches) for rule in [*pack.rules, *pack.correlations]]
        return sorted(rules, key=lambda rule: rule.title.casefold())

    def rule(self, rule_id: str) -> RuleSummary | None:
        return next((rule for rule in self.rules() if rule.id == rule_id), None)

    def set_enabled(self, rule_id: str, enabled: bool) -> None:
        """Switch a rule on or off for every detector that follows the overrides file."""
        set_enabled(self.overrides_file, rule_id, enabled)

    def _current(self) -> RulePack:
        with self._lock:
            stamps = _stamps(self.paths)
            if self._pack is None or stamps != self._stamps:
                self._pack, self._stamps = load_pack(self.paths), stamps
            return self._pack

    def _summary(self, rule: AnyRule, switches: dict[str, bool]) -> RuleSummary:
        info, key = RuleInfo.of(rule), rule_key(rule)
        tuning = tuning_of(rule, self._tuning)
        enabled = switches.get(key, not (tuning is not None and tuning.disabled))
        return RuleSummary(
            id=key, name=rule.name, title=rule.title, description=info.description,
            level=rule.level.name.lower() if rule.level else "medium",
            dataset=_dataset(rule), correlation=isinstance(rule, SigmaCorrelationRule),
            tags=info.tags, techniques=info.techniques, enabled=enabled)


def _dataset(rule: AnyRule) -> str | None:
    if isinstance(rule, SigmaCorrelationRule):
        members = [ref.rule for ref in rule.referenced_rules]
        return _dataset(members[0]) if members else None
    return rule.logsource.service


def _stamps(paths: list[Path]) -> Stamps:
    stamps = []
    for path in rule_files(paths):
        try:
            stamps.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            stamps.append((str(path), 0))
    return tuple(stamps)
