"""`liaowang rules lint` / `rules test` and `replay` with rules, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main
from detection.sigma.examples import run_examples
from detection.sigma.loader import SHIPPED_RULES, load_pack, rule_files
from liaowang.schema import validate
from tests.utils.pcaps import PCAPS

LIAOWANG = [str(Path(sys.executable).with_name("liaowang"))]
S7_STOP = PCAPS / "ITI__ICS-Security-Tools/pcaps__s7__step7_s300_stop.pcapng"
MODBUS_DIAGNOSTICS = PCAPS / "ITI__ICS-Security-Tools/pcaps__ModbusTCP__modbus_test_data_part1.pcap"

GOOD = """title: good
id: 11111111-1111-4111-8111-111111111111
level: high
tags: [attack.t0881]
falsepositives: [none]
logsource: {product: liaowang, service: s7comm}
detection:
  sel: {s7comm.function: 41}
  condition: sel
"""

BROKEN = {
    # file name: (text, line, words of the reason)
    "bad_modifier.yml": (GOOD.replace("s7comm.function:", "s7comm.function|sometimes:"), 8,
                         "sometimes"),
    "bad_condition.yml": (GOOD.replace("condition: sel", "condition: sel and other"), 9,
                          "other"),
    "bad_level.yml": (GOOD.replace("level: high", "level: urgent"), 3, "urgent"),
    "bad_field.yml": (GOOD.replace("s7comm.function:", "s7comm.fnction:"), 8,
                      "unknown field 's7comm.fnction'"),
    "bad_service.yml": (GOOD.replace("service: s7comm", "service: s7"), 6, "'s7' is not"),
    "bad_yaml.yml": (GOOD.replace("  sel: {", "  sel: {{"), 9, "expected ','"),
    "two_rules.yml": (GOOD + "---\n" + GOOD, 11, "exactly one rule"),
}


def write_rules(folder: Path) -> None:
    for n, (name, (text, _, _)) in enumerate(BROKEN.items()):
        (folder / name).write_text(text.replace("1111-4111", f"{n:04d}-4111"))
    (folder / "good.yml").write_text(GOOD)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIAOWANG, *args], capture_output=True, text=True, timeout=300)


def test_lint_reports_every_error_with_file_and_line(tmp_path: Path) -> None:
    write_rules(tmp_path)
    done = run("rules", "lint", str(tmp_path))
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    for name, (_, line, words) in BROKEN.items():
        found = [e for e in errors if e.startswith(f"{tmp_path / name}:{line}: error: ")]
        assert found and words in found[0], (name, errors)
    assert not [e for e in errors if "good.yml" in e]
    assert "4 rules, 7 errors" in done.stderr   # three loaded, broken all the same


def test_lint_of_the_shipped_pack_is_clean() -> None:
    done = run("rules", "lint")
    assert done.returncode == 0, done.stdout
    # notes name the rules that wait for a list of the configuration (detection.lists)
    assert [line for line in done.stdout.splitlines() if ": note: " not in line] == []


def test_a_broken_rule_is_skipped_and_the_others_run(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_rules(tmp_path)
    out = tmp_path / "events.jsonl"
    assert main(["replay", str(S7_STOP), "--rules", str(tmp_path), "--jsonl", str(out)]) == 0
    alerts = [e for e in map(json.loads, out.read_text().splitlines())
              if e["event"]["kind"] == "alert"]
    # the good rule matches the stop request and its acknowledgement
    assert [(a["rule"]["id"][:8], a["pcap"]["frame"]) for a in alerts] == [("11111111", 1),
                                                                          ("11111111", 2)]
    skipped = [line for line in capsys.readouterr().err.splitlines() if "rule skipped" in line]
    assert len(skipped) == 5                       # the field and service checks are lint's


def test_every_shipped_rule_has_passing_examples() -> None:
    pack = load_pack([SHIPPED_RULES])
    report = run_examples(pack)
    assert [str(f) for f in report.failures] == []
    assert report.rules == len(rule_files([SHIPPED_RULES])) >= 40
    assert report.cases >= 2 * report.rules


def test_rules_test_fails_on_a_wrong_example(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "good.tests.yml").write_text(
        "match:\n  - {s7comm: {function: 41}}\nno_match:\n  - {s7comm: {function: 41}}\n")
    done = run("rules", "test", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.strip() == (f"{tmp_path / 'good.tests.yml'}:4: error: rule 'good' "
                                   "example no_match[0]: got 1 alert(s)")


@pytest.mark.parametrize(("capture", "rule", "frames"), [
    (S7_STOP, "S7comm PLC stop request", [1]),
    (MODBUS_DIAGNOSTICS, "Modbus diagnostics: force listen-only mode", None),
])
def test_replay_raises_the_expected_alert_on_a_real_capture(capture: Path, rule: str,
                                                            frames: list[int] | None) -> None:
    done = run("replay", str(capture), "--jsonl", "-")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    alerts = [e for e in events if e["event"]["kind"] == "alert"]
    assert all(validate(a) == [] for a in alerts)
    hits = [a for a in alerts if a["rule"]["name"] == rule]
    assert hits, [a["rule"]["name"] for a in alerts]
    ids = {e["event"]["id"] for e in events if e["event"]["kind"] == "event"}
    assert all(set(a["evidence"]["event_ids"]) <= ids for a in hits)
    if frames:
        assert hits[0]["evidence"]["frames"] == frames == [hits[0]["pcap"]["frame"]]
        assert hits[0]["threat"] == {"framework": "MITRE ATT&CK for ICS",
                                     "technique": {"id": ["T0881", "T0858"]},
                                     "tactic": {"name": ["Inhibit Response Function"]}}
    summary = done.stderr.strip().splitlines()[-1]
    assert f"alerts={len(alerts)} " in summary
