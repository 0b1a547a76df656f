"""The insider scenario, as a new user meets it: ``liaowang train`` on a normal capture, then
``liaowang replay --model`` on a capture in which the plant's own HMI starts writing registers
it never wrote, at twenty times its learned polling rate. The alerts explain themselves and
fall in the insider's window only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from liaowang.events import parse_timestamp
from liaowang.schema import validate
from tests.detection.conftest import POLLER, normal_capture
from tests.detection.insider import WRITTEN_FIRST, Insider, write_insider

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
NORMAL = normal_capture("pcaps__ModbusTCP__Modbus__modbus_test_2.pcap")
HMI, PLC = POLLER.split(" -> ")
FACTOR = 20


def liaowang(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([LIAOWANG, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("insider")


@pytest.fixture(scope="module")
def model_file(workdir) -> Path:
    out = workdir / "plant.yml"
    liaowang("train", str(NORMAL), "--out", str(out))
    return out


@pytest.fixture(scope="module")
def insider(model_file, workdir) -> tuple[Path, Insider]:
    learned = yaml.safe_load(model_file.read_text())["baseline"]["pairs"][POLLER]["modbus"]
    rate = FACTOR * learned["requests_per_minute"]["median"] / 60
    path = workdir / "insider.pcap"
    return path, write_insider(NORMAL, path, HMI, PLC, rate)


def alerts_of(capture: Path, model: Path) -> list[dict]:
    done = liaowang("replay", str(capture), "--model", str(model), "--jsonl", "-")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return [e for e in events if e["event"]["kind"] == "alert"]


def span_us(alert: dict) -> tuple[int, int]:
    """When the alert's evidence happened: a window's start and end, or the event's moment."""
    event = alert["event"]
    return (parse_timestamp(event.get("start", alert["@timestamp"])),
            parse_timestamp(event.get("end", alert["@timestamp"])))


def in_window(alert: dict, burst: Insider) -> bool:
    start, end = span_us(alert)
    return start <= burst.end * 1e6 and end >= burst.start * 1e6


def test_the_insider_raises_an_explained_window_alert_and_nothing_else(model_file, insider):
    path, burst = insider
    alerts = alerts_of(path, model_file)
    windows = [a for a in alerts if a["rule"]["id"] == "liaowang-anomaly-window"]
    assert windows
    # Beside the model, only the signature pack may speak (its rule on register writes).
    assert {a["rule"]["ruleset"] for a in alerts} <= {"anomaly", "sigma"}
    assert all(in_window(a, burst) for a in alerts), [a["rule"]["name"] for a in alerts]
    for alert in windows:
        assert validate(alert) == []
        assert (alert["source"]["ip"], alert["destination"]["ip"]) == (HMI, PLC)
        assert alert["anomaly"]["score"] > alert["anomaly"]["threshold"]
        features = alert["anomaly"]["features"]
        explained = dict(zip(features["name"], zip(features["observed"], features["expected"],
                                                   strict=True), strict=True))
        assert explained, features
        rate = explained.get("requests_per_second") or explained.get("rate_vs_learned_log2")
        writes = explained.get("write_ratio")
        assert rate or writes, explained
        if writes:
            assert writes[0] > 0.5 and writes[1] == 0
        if rate and "requests_per_second" in explained:
            assert rate[0] > 5 * rate[1]
        assert "learned" in alert["event"]["reason"]


def test_an_approved_baseline_names_the_new_operation_and_registers(model_file, insider,
                                                                    workdir):
    path, burst = insider
    approved = workdir / "approved.yml"
    approved.write_text(model_file.read_text())
    liaowang("baseline", "approve", str(approved), "--by", "alice")
    alerts = alerts_of(path, approved)
    assert all(in_window(a, burst) for a in alerts), [a["rule"]["name"] for a in alerts]
    found = {a["baseline"]["violation"]: a for a in alerts if "baseline" in a}
    assert set(found) == {"new_operation", "write_outside_range"}
    assert found["new_operation"]["baseline"]["observed"] == "16"
    assert "4" in found["new_operation"]["baseline"]["expected"]
    registers = f"holding_registers {WRITTEN_FIRST}-{WRITTEN_FIRST + 3}"
    assert found["write_outside_range"]["baseline"]["observed"] == registers
    assert found["write_outside_range"]["baseline"]["expected"] == ["holding_registers: none"]
    assert any(a["rule"]["id"] == "liaowang-anomaly-window" for a in alerts)
    assert all(validate(a) == [] for a in alerts)
