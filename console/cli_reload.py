"""The signature detector of a long-lived process, reloaded on SIGHUP and on console switches.

``liaowang sensor``, ``replay`` and ``up`` build their Sigma detector here. On SIGHUP it reads
the configuration file and the rule files again and swaps the rule set before the next batch,
keeping the windows of unchanged correlations; when the configuration is broken the running
rules stay and standard error says why; a broken rule file is reported and skipped. The
console's rule switches (``detection.overrides_file``) are followed the same way, checked once
a second.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from pathlib import Path

from detection.sigma.detector import SigmaDetector
from detection.sigma.loader import SHIPPED_RULES, load_pack
from detection.sigma.locate import RuleProblem
from detection.sigma.overrides import OverridesError, read_overrides, with_overrides
from detection.sigma.reload import ReloadingDetector
from liaowang.config import Settings, load_config

_reloadable: list[ReloadingDetector] = []


def signature_detector(args: argparse.Namespace, settings: Settings) -> ReloadingDetector:
    """The Sigma rules of ``--rules``, the configuration or the shipped pack, with the tuning
    of the configuration and the console's switches; registered for SIGHUP."""
    config_path = getattr(args, "config", None)
    rule_paths = getattr(args, "rules", None)
    started = False

    def build() -> SigmaDetector:
        """The first time with ``settings``, then with the configuration file as it is now."""
        nonlocal started
        fresh = load_config(config_path) if config_path and started else settings
        started = True
        return _detector(fresh, rule_paths)

    try:
        detector = ReloadingDetector(build, _report,
                                     [Path(settings.detection.overrides_file)])
    except OverridesError as exc:
        from console.cli import Refused

        raise Refused(str(exc)) from exc
    _report_problems(detector.current.problems)
    _reloadable.append(detector)
    return detector


def _detector(settings: Settings, rule_paths: list[str] | None) -> SigmaDetector:
    detection = settings.detection
    configured = [detection.rules_path] if detection.rules_path else None
    pack = load_pack(rule_paths or configured or [SHIPPED_RULES])
    switches = read_overrides(detection.overrides_file)
    tuning = with_overrides(pack, detection.rules, switches)
    return SigmaDetector(pack, tuning, detection.lists)


_NEEDS_LISTS = re.compile(r"needs detection\.lists\.([\w, ]+?) in the configuration")


def _report_problems(problems: list[RuleProblem]) -> None:
    """Broken rules one line each; rules waiting for a site list in one line, since an
    unconfigured site has them all and `liaowang rules lint` names each."""
    waiting = [problem for problem in problems if problem.severity == "note"]
    for problem in problems:
        if problem.severity != "note":
            _report(f"rule skipped: {problem}")
    if waiting:
        lists = sorted({name for problem in waiting
                        for needed in _NEEDS_LISTS.findall(problem.reason)
                        for name in needed.split(", ")})
        _report(f"{len(waiting)} rules not loaded: they need "
                f"{', '.join(f'detection.lists.{name}' for name in lists)} in the configuration "
                "(`liaowang rules lint` lists them)")


def _report(line: str) -> None:
    print(f"liaowang: {line}", file=sys.stderr, flush=True)


def reload_on_sighup() -> None:
    """From now on, SIGHUP reloads every detector built here (call in the main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, _request_reloads)


def _request_reloads(_signum: int, _frame: object) -> None:
    for detector in _reloadable:
        detector.request_reload()
