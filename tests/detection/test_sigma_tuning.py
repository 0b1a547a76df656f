"""Tuning exceptions, their validation, and reloads that keep correlation windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detection.base import Detector
from detection.sigma import SigmaDetector
from detection.sigma.loader import load_pack
from detection.sigma.overrides import OverridesError, read_overrides, set_enabled
from detection.sigma.reload import ReloadingDetector
from liaowang.config import ConfigError, RuleTuning, load_config
from tests.detection.test_sigma_correlation import EVENT_COUNT, corr_alerts, event, pack

CODE_A = "00000000-0000-4000-8000-00000000000a"


def alerts_of(detector: Detector, name: str, events: list[dict[str, Any]]) -> list[str]:
    return [a["event"]["id"] for _, a in detector.place(events) if a["rule"]["name"] == name]


@pytest.mark.parametrize(("exception", "dropped"), [
    ({"source.ip": "10.0.0.1"}, True),
    ({"source.ip": "10.0.0.0/24"}, True),
    ({"source.ip": ["192.0.2.0/24", "10.0.0.0/8"]}, True),
    ({"source.ip": "10.0.1.0/24"}, False),
    ({"source.ip": "10.0.0.0/24", "destination.ip": "10.0.0.3"}, False),   # every field
    ({"source.ip": "10.0.0.0/24", "modbus.unit_id": [1, 2]}, True),
    ({"modbus.unit_id": "1"}, True),                   # a number equals its text
    ({"observer.name": "T"}, True),                    # strings without regard to case
    ({"modbus.exception_code": 2}, False),             # absent field: no match
], ids=lambda value: str(value))
def test_an_exception_drops_the_alerts_of_events_it_matches(tmp_path: Path, exception: Any,
                                                            dropped: bool) -> None:
    tuning = {"code_b": RuleTuning(exceptions=(exception,))}
    detector = SigmaDetector(load_pack([pack(tmp_path, EVENT_COUNT)]), tuning)
    raised = alerts_of(detector, "code_b", [event(1, 0, code=43)])
    assert (raised == []) is dropped


def test_an_exception_of_one_rule_leaves_the_others_alone(tmp_path: Path) -> None:
    tuning = {"corr": RuleTuning(exceptions=({"source.ip": "10.0.0.0/8"},))}
    detector = SigmaDetector(load_pack([pack(tmp_path, EVENT_COUNT)]), tuning)
    assert alerts_of(detector, "code_b", [event(1, 0, code=43)]) != []


def test_a_correlation_exception_looks_at_the_event_that_completed_it(tmp_path: Path) -> None:
    tuning = {"corr": RuleTuning(exceptions=({"source.ip": "10.0.0.9"},))}
    detector = SigmaDetector(load_pack([pack(tmp_path, EVENT_COUNT)]), tuning)
    burst = [event(n, n, source=ip) for n in range(3) for ip in ("10.0.0.1", "10.0.0.9")]
    alerts = corr_alerts(detector, burst)
    assert [a["source"]["ip"] for a in alerts] == ["10.0.0.1"]


CONFIG = """detection:
  rules:
    {rule}:
      exceptions:
{exceptions}
"""


@pytest.mark.parametrize(("exceptions", "line", "reason"), [
    ("        - {source.ip: 10.0.0.0/33}", 5, "source.ip: '10.0.0.0/33' is not an IP"),
    ("        - {destination.ip: [10.0.0.1, plc-1]}", 5, "'plc-1' is not an IP"),
    ("        - {}", 5, "at least 1 item"),
    ("        - {modbus.unit_id: []}", 5, "modbus.unit_id: an empty list never matches"),
    ("        - {modbus.unit_id: {a: 1}}", 5, "modbus.unit_id: a value or a list of values"),
    ("        - source.ip", 5, "valid dictionary"),
], ids=["cidr", "address", "empty", "empty-list", "mapping", "not-a-mapping"])
def test_bad_exceptions_are_refused_with_the_key(tmp_path: Path, exceptions: str, line: int,
                                                 reason: str) -> None:
    path = tmp_path / "liaowang.yml"
    path.write_text(CONFIG.format(rule="S7comm PLC stop request", exceptions=exceptions))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.key.startswith("detection.rules.S7comm PLC stop request.exceptions.0")
    assert refused.value.line == line
    assert reason in str(refused.value)


def test_a_reload_keeps_the_windows_of_unchanged_correlations(tmp_path: Path) -> None:
    rules = pack(tmp_path, EVENT_COUNT)
    old = SigmaDetector(load_pack([rules]))
    assert corr_alerts(old, [event(1, 0), event(2, 1)]) == []   # 2 of 3 in the window

    kept = SigmaDetector(load_pack([rules]), {"code_a": RuleTuning(severity=1)})
    assert kept.adopt_state(old) == 1
    assert [a["evidence"]["event_ids"] for a in corr_alerts(kept, [event(3, 2)])] == [
        ["e1", "e2", "e3"]]

    lost = SigmaDetector(load_pack([rules]))
    assert corr_alerts(lost, [event(3, 2)]) == [], "a new detector starts empty"


def test_a_changed_correlation_starts_again(tmp_path: Path) -> None:
    old = SigmaDetector(load_pack([pack(tmp_path, EVENT_COUNT)]))
    corr_alerts(old, [event(1, 0), event(2, 1)])
    changed = SigmaDetector(load_pack([pack(tmp_path, EVENT_COUNT.replace("10s", "20s"))]))
    assert changed.adopt_state(old) == 0
    assert corr_alerts(changed, [event(3, 2)]) == []


def test_a_reloading_detector_keeps_its_rules_when_the_new_configuration_is_broken(
        tmp_path: Path) -> None:
    rules, config = pack(tmp_path, EVENT_COUNT), tmp_path / "liaowang.yml"
    config.write_text("detection: {rules: {corr: {severity: 1}}}\n")
    said: list[str] = []

    def build() -> SigmaDetector:
        settings = load_config(config)
        return SigmaDetector(load_pack([rules]), settings.detection.rules)

    detector = ReloadingDetector(build, said.append)
    corr_alerts(detector.current, [event(1, 0), event(2, 1)])
    config.write_text("detection: {rules: {corr: {severity: 9}}}\n")
    assert detector.reload() is False
    assert "reload refused, the running rules stay" in said[-1]
    assert "detection.rules.corr.severity" in said[-1]

    config.write_text("detection: {rules: {corr: {severity: 2}}}\n")
    (rules / "broken.yml").write_text("title: broken\ndetection: {condition: nothing}\n")
    detector.request_reload()
    alerts = [alert for _, alert in detector.place([event(3, 2)])]
    assert any("broken.yml" in line for line in said), said
    assert said[-1] == "rules reloaded: 3 rules, 1 correlation windows kept"
    severities = {a["rule"]["name"]: a["event"]["severity"] for a in alerts}
    assert severities == {"corr": 2}


def test_switches_are_validated_and_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "overrides.yml"
    assert set_enabled(path, "a", False) == {"a": False}
    assert set_enabled(path, "b", True) == {"a": False, "b": True}
    assert read_overrides(path) == {"a": False, "b": True}
    path.write_text("rules: {a: {enabled: 1}}\n")
    with pytest.raises(OverridesError, match=r"rules\.a\.enabled"):
        read_overrides(path)
