"""Correlation rules over event time: windows, group-by, sequences, bounded state, tuning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detection.sigma import SigmaDetector
from detection.sigma.loader import load_pack
from liaowang.config import RuleTuning
from liaowang.events import iso_timestamp, parse_timestamp
from liaowang.schema import validate

T0 = parse_timestamp("2024-05-01T12:00:00Z")

BASE = """title: {name}
id: {uuid}
name: {name}
level: high
tags: [attack.t0881]
logsource: {{product: liaowang, service: modbus}}
detection:
  sel: {{modbus.function_code: {code}}}
  condition: sel
"""


def pack(tmp_path: Path, correlation: str) -> Path:
    (tmp_path / "a.yml").write_text(BASE.format(
        name="code_a", uuid="00000000-0000-4000-8000-00000000000a", code=8))
    (tmp_path / "b.yml").write_text(BASE.format(
        name="code_b", uuid="00000000-0000-4000-8000-00000000000b", code=43))
    (tmp_path / "c.yml").write_text(
        "title: corr\nid: 00000000-0000-4000-8000-0000000000cc\nlevel: critical\n"
        "tags: [attack.t0846]\ncorrelation:\n" + correlation)
    return tmp_path


def event(n: int, seconds: float, code: int = 8, source: str = "10.0.0.1",
          destination: str = "10.0.0.2") -> dict[str, Any]:
    return {"@timestamp": iso_timestamp(T0 + int(seconds * 1_000_000)),
            "event": {"kind": "event", "dataset": "modbus", "id": f"e{n}"},
            "observer": {"name": "t"}, "pcap": {"frame": n},
            "source": {"ip": source}, "destination": {"ip": destination},
            "modbus": {"function_code": code, "transaction_id": n, "unit_id": 1}}


def corr_alerts(detector: SigmaDetector, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in detector.process(events) if a["rule"]["name"] == "corr"]


EVENT_COUNT = """  type: event_count
  rules: [code_a]
  group-by: [source.ip]
  timespan: 10s
  condition: {gte: 3}
"""


def test_event_count_raises_once_when_the_window_fills(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, EVENT_COUNT)])
    alerts = corr_alerts(detector, [event(i, i * 4) for i in range(4)])
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["evidence"] == {"event_ids": ["e0", "e1", "e2"], "frames": [0, 1, 2]}
    assert alert["event"]["severity"] == 4 and alert["event"]["risk_score"] == 99.0
    assert alert["pcap"]["frame"] == 2 and validate(alert) == []


def test_an_alert_lists_the_frames_of_its_own_capture_file(tmp_path: Path) -> None:
    """A correlation across the files of one replay: every event in the ids, but frames only
    of the alert's file, the one its packets are exported from."""
    detector = SigmaDetector.load([pack(tmp_path, EVENT_COUNT)])
    events = [event(i, i) for i in range(3)]
    for each, path in zip(events, ["/caps/a.pcap", "/caps/b.pcap", "/caps/b.pcap"], strict=True):
        each["log"] = {"file": {"path": path}}
    (alert,) = corr_alerts(detector, events)
    assert alert["evidence"] == {"event_ids": ["e0", "e1", "e2"], "frames": [1, 2]}
    assert alert["log"]["file"]["path"] == "/caps/b.pcap"


def test_event_count_window_is_event_time_and_groups_are_apart(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, EVENT_COUNT)])
    spread = [event(i, i * 6) for i in range(3)]                   # 12 s from first to last
    split = [event(10 + i, 100 + i, source=f"10.0.0.{i}") for i in range(3)]
    assert corr_alerts(detector, spread + split) == []


def test_member_rules_raise_no_alerts_of_their_own(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, EVENT_COUNT)])
    names = [a["rule"]["name"] for a in detector.process([event(1, 0), event(2, 1, code=43)])]
    assert names == ["code_b"]


def test_value_count_counts_distinct_values(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, """  type: value_count
  rules: [code_a]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 3, field: destination.ip}
""")])
    same = [event(i, i, destination="10.0.0.9") for i in range(5)]
    assert corr_alerts(detector, same) == []
    sweep = [event(10 + i, 10 + i, destination=f"10.0.1.{i}") for i in range(3)]
    assert len(corr_alerts(detector, sweep)) == 1


TEMPORAL = """  type: {kind}
  rules: [code_a, code_b]
  group-by: [source.ip]
  timespan: 30s
  generate: true
"""


def test_temporal_needs_every_rule_in_any_order(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, TEMPORAL.format(kind="temporal"))])
    assert corr_alerts(detector, [event(1, 0, code=43)]) == []
    alerts = detector.process([event(2, 5, code=8)])
    assert [a["rule"]["name"] for a in alerts] == ["code_a", "corr"]   # generate: true


def test_temporal_ordered_needs_the_order_and_the_window(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, TEMPORAL.format(kind="temporal_ordered"))])
    assert corr_alerts(detector, [event(1, 0, code=43), event(2, 1, code=8)]) == []
    assert corr_alerts(detector, [event(3, 100, code=8), event(4, 140, code=43)]) == []
    alerts = corr_alerts(detector, [event(5, 200, code=8), event(6, 210, code=43)])
    assert [a["evidence"]["event_ids"] for a in alerts] == [["e5", "e6"]]


def test_group_state_is_bounded(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, EVENT_COUNT)])
    detector.process([event(i, 0, source=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
                      for i in range(12_000)])
    state = next(iter(detector._datasets["modbus"].tables[0][1]["8"])).feeds[0].state
    assert len(state._groups) == state.max_groups == 10_000


def test_unsupported_condition_is_reported_and_skipped(tmp_path: Path) -> None:
    detector = SigmaDetector.load([pack(tmp_path, EVENT_COUNT.replace("gte: 3", "lt: 3"))])
    assert [p.line for p in detector.problems] == [10]          # correlation.condition
    assert "only gt and gte" in detector.problems[0].reason
    assert len(detector.process([event(1, 0, code=43)])) == 1       # the others still run


def test_tuning_suppresses_overrides_and_disables(tmp_path: Path) -> None:
    path = pack(tmp_path, EVENT_COUNT)
    tuned = SigmaDetector(load_pack([path]), {
        "code_b": RuleTuning(suppress_s=60, severity=1),
        "00000000-0000-4000-8000-0000000000cc": RuleTuning(disabled=True)})
    alerts = tuned.process([event(i, i * 20, code=43) for i in range(4)] +
                           [event(10 + i, 100 + i) for i in range(3)])
    assert [a["evidence"]["event_ids"] for a in alerts] == [["e0"], ["e3"]]
    assert {a["event"]["severity"] for a in alerts} == {1}
