"""Assets, zones, threat intel and fusion end to end: ``liaowang replay --config`` on a real
S7comm capture (an engineering station 134.217.61.131 uploading blocks from and stopping the PLC
134.217.61.211), as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from liaowang.schema import validate
from tests.utils.pcaps import PCAPS

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
SNAP7 = PCAPS / "cisagov__icsnpp-s7comm/tests__traces__snap7.pcap"
PLC, STATION = "134.217.61.211", "134.217.61.131"
INTEL = """\
indicator,type,description,severity
134.217.61.131,ip,Station seen in a ransomware case,critical
"""
CONFIG = """\
zones:
  - {{name: cell-1, cidrs: [134.217.61.0/24], kind: ot}}
assets:
  - {{name: plc-line-1, ip: {plc}, zone: cell-1, criticality: {criticality}, role: plc}}
intel:
  files: [{intel}]
detection:
  fusion: {{window_s: 60, repeats: count}}
"""


def replay(tmp_path: Path, criticality: str) -> list[dict]:
    intel = tmp_path / "intel.csv"
    intel.write_text(INTEL)
    config = tmp_path / f"liaowang-{criticality}.yml"
    config.write_text(CONFIG.format(plc=PLC, criticality=criticality, intel=intel))
    done = subprocess.run([LIAOWANG, "replay", str(SNAP7), "--config", str(config),
                           "--jsonl", "-"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("fusion")
    return {level: replay(folder, level) for level in ("critical", "low")}


def alerts(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"]["kind"] == "alert"]


def test_events_carry_the_asset_and_zone_of_their_endpoints(runs) -> None:
    events = runs["critical"]
    s7 = [e for e in events if e["event"]["dataset"] == "s7comm" and e["event"]["kind"] == "event"]
    assert s7 and all(validate(e) == [] for e in events)
    to_plc = [e for e in s7 if e["destination"]["ip"] == PLC]
    assert to_plc and all(e["destination"]["asset"] == {"name": "plc-line-1", "criticality": 5,
                                                        "role": "plc"} for e in to_plc)
    assert all(e["destination"]["zone"] == "cell-1" and e["destination"]["zone_kind"] == "ot"
               for e in to_plc)
    assert all("asset" not in e["source"] and e["source"]["zone"] == "cell-1" for e in to_plc)


def test_every_alert_has_a_risk_score_within_0_and_100(runs) -> None:
    for events in runs.values():
        scores = [a["event"]["risk_score"] for a in alerts(events)]
        assert scores and all(0 <= score <= 100 for score in scores)


def test_the_same_alert_scores_higher_on_a_critical_plc_than_on_a_low_one(runs) -> None:
    def stop_scores(events: list[dict]) -> set[float]:
        return {a["event"]["risk_score"] for a in alerts(events)
                if a["rule"]["name"] == "S7comm PLC stop request"}

    (critical,), (low,) = stop_scores(runs["critical"]), stop_scores(runs["low"])
    assert critical > low


def test_the_listed_station_raises_intel_alerts(runs) -> None:
    intel = [a for a in alerts(runs["critical"]) if a["rule"]["id"] == "liaowang-intel-match"]
    assert intel and all(a["event"]["severity"] == 4 for a in intel)
    assert {a["threat"]["indicator"]["name"] for a in intel} == {STATION}
    assert all(STATION in (a["source"]["ip"], a["destination"]["ip"]) for a in intel)
    listed = [e for e in runs["critical"] if e["event"]["kind"] == "event"
              and e.get("threat", {}).get("enrichments")]
    assert listed and all(e["threat"]["enrichments"]["matched"]["atomic"] == [STATION]
                          for e in listed)


def test_repeats_are_folded_into_one_counted_alert(runs) -> None:
    events = runs["critical"]
    intel = [a for a in alerts(events) if a["rule"]["id"] == "liaowang-intel-match"]
    firsts = [a for a in intel if a["alert"] == {"repeat_count": 1}]
    counted = [a for a in intel if "repeat_of" in a["alert"]]
    assert len(firsts) + len(counted) == len(intel)
    assert len(firsts) == 2   # one per direction: station → PLC and PLC → station
    assert {a["alert"]["repeat_of"] for a in counted} <= {a["event"]["id"] for a in firsts}
    matching_events = sum(1 for e in events if e.get("threat", {}).get("enrichments"))
    assert len(firsts) + sum(a["alert"]["repeat_count"] - 1 for a in counted) == matching_events
    ids = [e["event"]["id"] for e in events if e["event"]["kind"] in ("event", "alert")]
    assert len(ids) == len(set(ids))
