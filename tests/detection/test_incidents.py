"""The incident correlator: grouping by assets and event time, kill-chain stages and escalation,
stable ids, bounded state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from detection.incidents import IncidentCorrelator
from detection.killchain import stage_of
from detection.sigma.alerts import RuleInfo
from liaowang.events import event_id, iso_timestamp
from liaowang.schema import validate

Event = dict[str, Any]
T0 = 1_445_508_000_000_000   # 2015-10-22T10:00:00Z
MINUTE = 60_000_000
SIGNATURES = Path(__file__).resolve().parents[2] / "signatures"

DISCOVERY = {"tactic": {"name": ["Discovery"]}, "technique": {"id": ["T0888"]}}
COMMAND = {"tactic": {"name": ["Impair Process Control"]}, "technique": {"id": ["T0836"]}}
IMPACT = {"tactic": {"name": ["Inhibit Response Function"]}, "technique": {"id": ["T0814"]}}


def alert(name: str, at_us: int, source: str = "10.0.0.9", target: str = "10.0.0.2",
          threat: dict[str, Any] | None = None, severity: int | None = 1,
          **extra: Any) -> Event:
    event: Event = {
        "@timestamp": iso_timestamp(at_us), "observer": {"name": "tap1"},
        "event": {"id": event_id("alert", name), "kind": "alert", "dataset": "modbus"},
        "source": {"ip": source}, "destination": {"ip": target},
        "rule": {"id": f"rule-{name}", "name": f"Rule {name}"},
    }
    if severity is not None:
        event["event"]["severity"] = severity
    if threat:
        event["threat"] = threat
    for dotted, value in extra.items():
        *parents, last = dotted.split("__")
        node = event
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return event


def tick(at_us: int) -> Event:
    """A plain event: it only moves the clock."""
    return {"@timestamp": iso_timestamp(at_us), "event": {"id": f"e{at_us}", "kind": "event",
                                                          "dataset": "flow"}}


def run(alerts: list[Event], **options: Any) -> dict[str, Event]:
    """The last version of every incident, by id, after the input ended."""
    correlator = IncidentCorrelator(**options)
    latest: dict[str, Event] = {}
    for item in alerts:
        for document in correlator.process([item]):
            latest[document["event"]["id"]] = document
    for document in correlator.finish():
        latest[document["event"]["id"]] = document
    return latest


def attack() -> list[Event]:
    return [alert("identify", T0, threat=DISCOVERY, severity=1, network__community_id="1:a"),
            alert("write", T0 + MINUTE, threat=COMMAND, severity=1),
            alert("listen-only", T0 + 2 * MINUTE, threat=IMPACT, severity=3)]


def test_a_progressing_attack_is_one_escalated_incident() -> None:
    [incident] = run(attack()).values()
    body = incident["incident"]
    assert body["stages"] == ["discovery", "command", "impact"]
    assert incident["event"]["severity"] == 4          # 3, escalated by two later stages
    assert body["title"] == "Discovery → command → impact on 10.0.0.2"
    assert [entry["stage"] for entry in body["timeline"]] == ["discovery", "command", "impact"]
    assert body["alert_ids"] == [a["event"]["id"] for a in attack()]
    assert body["assets"] == {"ip": ["10.0.0.9", "10.0.0.2"], "community_id": ["1:a"]}
    assert incident["event"]["start"] == iso_timestamp(T0)
    assert incident["@timestamp"] == incident["event"]["end"] == iso_timestamp(T0 + 2 * MINUTE)
    assert body["state"] == "closed" and validate(incident) == []


def test_severity_escalates_as_stages_are_reached() -> None:
    correlator = IncidentCorrelator()
    severities = [correlator.process([item])[0]["event"]["severity"] for item in attack()]
    assert severities == [1, 2, 4]


def test_unrelated_hosts_are_separate_incidents() -> None:
    found = run([alert("a", T0, "10.0.0.9", "10.0.0.2"),
                 alert("b", T0 + 1, "192.0.2.1", "192.0.2.2"),
                 alert("c", T0 + 2, "10.0.0.2", "10.0.0.3")])
    assert sorted(i["incident"]["alert_count"] for i in found.values()) == [1, 2]


def test_a_shared_community_id_joins_without_a_shared_address() -> None:
    found = run([alert("a", T0, "10.0.0.9", "10.0.0.2", network__community_id="1:x"),
                 alert("b", T0 + 1, "192.0.2.1", "192.0.2.2", network__community_id="1:x")])
    assert len(found) == 1


def test_the_window_is_on_event_time() -> None:
    window_s = 600
    late = T0 + (window_s + 1) * 1_000_000
    found = run([alert("a", T0), alert("b", late)], window_s=window_s)
    assert len(found) == 2
    found = run([alert("a", T0), alert("b", late - 2_000_000)], window_s=window_s)
    assert len(found) == 1


def test_an_idle_incident_closes_when_event_time_passes_the_window() -> None:
    correlator = IncidentCorrelator(window_s=60)
    [opened] = correlator.process([alert("a", T0)])
    assert opened["incident"]["state"] == "open"
    assert correlator.process([tick(T0 + 30_000_000)]) == []
    [closed] = correlator.process([tick(T0 + 61_000_000)])
    assert closed["event"]["id"] == opened["event"]["id"]
    assert closed["incident"]["state"] == "closed" and correlator.open_count == 0


@pytest.mark.parametrize("size", [2, 3])
def test_the_clock_moves_item_by_item_whatever_the_batches(size: int) -> None:
    """An event an hour later closes the idle incident before the older alert after it."""
    items = [alert("a", T0), tick(T0 + 3_600_000_000), alert("b", T0 + MINUTE)]
    one_by_one = run(items, window_s=600)
    correlator, batched = IncidentCorrelator(window_s=600), {}
    for start in range(0, len(items), size):
        batched |= {d["event"]["id"]: d for d in correlator.process(items[start:start + size])}
    batched |= {d["event"]["id"]: d for d in correlator.finish()}
    assert batched == one_by_one
    assert [d["incident"]["alert_count"] for d in batched.values()] == [1, 1]


def test_the_timeline_is_in_time_order_whatever_the_order_alerts_come_in() -> None:
    late = alert("summary-of-repeats", T0 + 2 * MINUTE)     # fusion sends it when its window ends
    [incident] = run([alert("a", T0), alert("b", T0 + 3 * MINUTE), late]).values()
    timeline = incident["incident"]["timeline"]
    assert [entry["at"] for entry in timeline] == sorted(entry["at"] for entry in timeline)
    assert incident["incident"]["alert_ids"] == [entry["alert_id"] for entry in timeline]


def test_replays_give_the_same_incidents() -> None:
    assert run(attack()) == run(attack())


def test_open_incidents_are_capped() -> None:
    correlator = IncidentCorrelator(max_open=2)
    for number in range(5):
        correlator.process([alert(f"a{number}", T0 + number, f"192.0.2.{number}",
                                  f"198.51.100.{number}")])
    assert correlator.open_count == 2


def test_the_timeline_is_capped_but_keeps_stage_changes() -> None:
    alerts = [alert(f"w{n}", T0 + n, threat=COMMAND) for n in range(10)]
    alerts.append(alert("stop", T0 + 20, threat=IMPACT))
    [incident] = run(alerts, max_timeline=3).values()
    body = incident["incident"]
    assert body["alert_count"] == 11
    assert len(body["timeline"]) == 4 and body["timeline"][-1]["stage"] == "impact"


def test_risk_score_and_zones_are_used_when_present() -> None:
    fused = alert("fused", T0, severity=None, event__risk_score=88.0,
                  source__zone="it", destination__zone="ot-cell-1")
    [incident] = run([fused]).values()
    assert incident["event"]["severity"] == 4 and incident["event"]["risk_score"] == 88.0
    assert incident["incident"]["assets"]["zone"] == ["it", "ot-cell-1"]


def test_odd_alerts_do_not_break_it() -> None:
    odd = [{"event": {"id": "x", "kind": "alert"}},
           {"@timestamp": "not a time", "event": {"id": "y", "kind": "alert"}},
           {"@timestamp": iso_timestamp(T0), "event": {"kind": "alert"}},
           alert("no-threat", T0, threat={"tactic": "Discovery"}, severity=9)]
    [incident] = run(odd).values()
    assert incident["incident"]["stages"] == []
    assert incident["event"]["severity"] == 1


@pytest.mark.parametrize("window_s", [0, -1])
def test_bad_settings_are_refused(window_s: float) -> None:
    with pytest.raises(ValueError, match="window_s"):
        IncidentCorrelator(window_s=window_s)


def shipped_rules() -> list[dict[str, Any]]:
    paths = [p for p in SIGNATURES.rglob("*.yml") if not p.name.endswith(".tests.yml")]
    return [rule for path in paths if isinstance(rule := yaml.safe_load(path.read_text()), dict)]


def test_every_shipped_rule_with_threat_tags_has_a_stage() -> None:
    missing = []
    for rule in shipped_rules():
        tags = tuple(rule.get("tags") or ())
        info = RuleInfo(id="r", name="r", description="", tags=tags, severity=1, risk_score=1)
        threat = {"tactic": {"name": list(info.tactics)},
                  "technique": {"id": list(info.techniques)}}
        if (info.tactics or info.techniques) and stage_of({"threat": threat}) is None:
            missing.append(rule.get("title"))
    assert missing == []


def test_the_assets_of_one_incident_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("detection.incidents.MAX_VALUES", 4)
    sweep = [alert(f"s{n}", T0 + n, "10.0.0.9", f"10.0.1.{n}") for n in range(10)]
    [incident] = run(sweep).values()
    assert incident["incident"]["alert_count"] == 10
    assert len(incident["incident"]["assets"]["ip"]) == 4
