"""``liaowang rules``: lint rule files, run their examples, hunt with them over history.

``rules lint [PATH...]`` prints every problem as ``file:line: severity: reason`` and exits 1 when
any is an error; ``rules test [PATH...]`` runs each rule's examples (``<rule>.tests.yml``) and
exits 1 when one fails. Without a path both work on the shipped pack (``signatures/``).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from console import cli_hunt
from detection.sigma.examples import run_examples
from detection.sigma.lint import lint
from detection.sigma.loader import SHIPPED_RULES, load_pack
from liaowang.config import load_config


def add_parser(commands: argparse._SubParsersAction) -> None:
    rules = commands.add_parser("rules", help="lint Sigma rules and run their examples")
    actions = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    for name, run, text in (("lint", run_lint, "validate rule files (file:line: reason)"),
                            ("test", run_test, "run each rule's own examples")):
        action = actions.add_parser(name, help=text)
        action.add_argument("paths", nargs="*", metavar="PATH",
                            help="rule files or folders (default: the shipped pack)")
        action.set_defaults(run=run)
        if name == "lint":
            action.add_argument("--config", metavar="FILE",
                                help="check the rules against this configuration's lists")
    cli_hunt.add_parser(actions)


def run_lint(args: argparse.Namespace) -> int:
    lists = load_config(args.config).detection.lists if args.config else None
    report = lint(args.paths or [SHIPPED_RULES], lists)
    for problem in report.problems:
        print(problem)
    counts = Counter(problem.severity for problem in report.problems)
    print(f"{report.rules} rules, {counts['error']} errors, {counts['warning']} warnings, "
          f"{counts['note']} notes", file=sys.stderr)
    return 1 if report.errors else 0


def run_test(args: argparse.Namespace) -> int:
    pack = load_pack(args.paths or [SHIPPED_RULES])
    for problem in pack.errors:
        print(problem)
    report = run_examples(pack)
    for failure in report.failures:
        print(failure)
    print(f"{report.rules} rules, {report.cases} examples, {len(report.failures)} failed",
          file=sys.stderr)
    return 1 if report.failures or pack.errors else 0
