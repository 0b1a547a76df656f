"""Configuration lists in rules: ``field|expand: '%name%'`` filled from ``detection.lists``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sigma.rule import SigmaRule

from detection.sigma import SigmaDetector
from detection.sigma.compiler import compile_rule
from detection.sigma.list_pipeline import lists_pipeline
from detection.sigma.lists import MissingList, expand_lists, list_names
from detection.sigma.loader import load_pack
from liaowang.config import ConfigError, load_config

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))

RULE = """title: control from elsewhere
id: 22222222-2222-4222-8222-222222222222
level: high
tags: [attack.t0855]
falsepositives: [a new master]
logsource: {product: liaowang, service: dnp3}
detection:
  control: {dnp3.function_code: [3, 4, 5, 6]}
  master: {source.ip|expand: '%allowed_masters%'}
  outstation: {dnp3.destination_address|expand: '%outstations%'}
  condition: control and not master and outstation
"""


def dnp3(function: int, source: str, outstation: int) -> dict:
    return {"event": {"kind": "event", "dataset": "dnp3", "id": f"{function}{source}"},
            "@timestamp": "2024-01-01T00:00:00Z", "observer": {"name": "t"},
            "dnp3": {"function_code": function, "destination_address": outstation},
            "source": {"ip": source}}


def matches(lists: dict, event: dict) -> bool:
    return compile_rule(expand_lists(SigmaRule.from_yaml(RULE), lists))(event)


LISTS = {"allowed_masters": ["10.0.0.5", "10.1.0.0/16", "fd00::/64"], "outstations": [4, 7]}


@pytest.mark.parametrize(("source", "outstation", "expected"), [
    ("10.9.9.9", 4, True),        # unlisted master, listed outstation
    ("10.0.0.5", 4, False),       # a listed host
    ("10.1.200.3", 7, False),     # inside a listed network
    ("fd00::17", 4, False),       # IPv6 network
    ("fd01::17", 4, True),
    ("10.9.9.9", 5, False),       # an outstation outside the numeric list
    ("not-an-ip", 4, True),       # a value that is no address is in no network
])
def test_addresses_are_networks_and_numbers_stay_numbers(source: str, outstation: int,
                                                          expected: bool) -> None:
    assert matches(LISTS, dnp3(5, source, outstation)) is expected


def test_strings_compare_like_sigma_strings() -> None:
    rule = SigmaRule.from_yaml(RULE.replace("source.ip|expand", "source.domain|expand"))
    lists = {"allowed_masters": ["Master.Example"], "outstations": [4]}
    match = compile_rule(expand_lists(rule, lists))
    event = dnp3(5, "10.9.9.9", 4)
    assert match(event)
    event["source"]["domain"] = "master.example"
    assert not match(event)


def test_a_missing_list_is_named_and_the_rule_is_left_as_it_was() -> None:
    rule = SigmaRule.from_yaml(RULE)
    assert list_names(rule) == {"allowed_masters", "outstations"}
    with pytest.raises(MissingList, match=r"detection\.lists\.outstations"):
        expand_lists(rule, {"allowed_masters": ["10.0.0.5"]})
    expand_lists(rule, LISTS)
    assert list_names(rule) == {"allowed_masters", "outstations"}   # the original is untouched


def test_the_pipeline_serves_pysigma_backends_too() -> None:
    rule = SigmaRule.from_yaml(RULE)
    lists_pipeline(LISTS).apply(rule)
    assert list_names(rule) == set()


def test_detector_skips_a_rule_whose_list_is_unset_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(RULE)
    pack = load_pack([tmp_path])
    unset = SigmaDetector(pack)
    assert [p.severity for p in unset.problems] == ["note"]
    assert "needs detection.lists.allowed_masters, outstations" in unset.problems[0].reason
    assert unset.process([dnp3(5, "10.9.9.9", 4)]) == []
    configured = SigmaDetector(pack, lists=LISTS)
    assert configured.problems == []
    assert len(configured.process([dnp3(5, "10.9.9.9", 4), dnp3(5, "10.0.0.5", 4)])) == 1


EXAMPLES = """lists:
  allowed_masters: [10.0.0.5]
  outstations: [4]
match:
  - {dnp3.function_code: 5, dnp3.destination_address: 4, source.ip: 10.0.9.9}
no_match:
  - {dnp3.function_code: 5, dnp3.destination_address: 4, source.ip: 10.0.0.5}
"""


def test_lint_notes_unset_lists_and_checks_a_configuration(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rule.yml").write_text(RULE)
    (rules / "rule.tests.yml").write_text(EXAMPLES)
    done = subprocess.run([LIAOWANG, "rules", "lint", str(rules)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "rule.yml:9: note: needs detection.lists.allowed_masters, outstations" in done.stdout
    assert "0 errors, 0 warnings, 1 notes" in done.stderr
    config = tmp_path / "site.yml"
    config.write_text("detection:\n  lists:\n    allowed_masters: [10.0.0.5]\n"
                      "    outstations: [4]\n")
    done = subprocess.run([LIAOWANG, "rules", "lint", str(rules), "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "")


def test_examples_carry_their_own_lists(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(RULE)
    (tmp_path / "rule.tests.yml").write_text(EXAMPLES)
    done = subprocess.run([LIAOWANG, "rules", "test", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "1 rules, 2 examples, 0 failed\n")
    (tmp_path / "rule.tests.yml").write_text(EXAMPLES.replace("[10.0.0.5]", "[10.0.9.0/24]"))
    done = subprocess.run([LIAOWANG, "rules", "test", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "example match[0]: got no alert" in done.stdout


@pytest.mark.parametrize(("text", "line", "key", "reason"), [
    ("detection:\n  lists:\n    ot_networks: [10.0.0.0/33]\n", 3, "detection.lists.ot_networks",
     "is not an IP network"),
    ("detection:\n  lists:\n    ot_networks: []\n", 3, "detection.lists.ot_networks",
     "at least 1 item"),
    ("detection:\n  lists:\n    OT-nets: [10.0.0.0/8]\n", 3, "detection.lists.OT-nets",
     "should match pattern"),
    ("detection:\n  lists:\n    hosts: 10.0.0.1\n", 3, "detection.lists.hosts",
     "valid tuple"),
])
def test_bad_lists_are_refused_with_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                                 reason: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.line == line and error.value.key.startswith(key)
    assert reason in error.value.reason


def test_lists_load_as_written(tmp_path: Path) -> None:
    path = tmp_path / "site.yml"
    path.write_text("detection:\n  lists:\n    known_gnbs: [1, 16384]\n"
                    "    ot_networks: [10.20.1.0/24, 10.20.9.7]\n")
    lists = load_config(path).detection.lists
    assert lists == {"known_gnbs": (1, 16384), "ot_networks": ("10.20.1.0/24", "10.20.9.7")}
