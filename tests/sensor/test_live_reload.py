"""``liaowang sensor`` reloads its rules on SIGHUP without losing correlation state.

A real S7comm capture (SZL reads, then a PLC stop, from one host) is cut in two before the stop.
The first half is sent to a running sensor, which then gets SIGHUP twice: once with a broken
configuration (refused, the running rules stay) and once with a new one (a severity override)
and a broken rule file beside the rules (reported and skipped). The second half then completes
the "stop after SZL enumeration" correlation, whose window began before the reload, and the
stop alert carries the new severity.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import dpkt

from detection.sigma.loader import SHIPPED_RULES
from tests.sensor.test_live import (  # the fixtures, and the skip without network namespaces
    StartSensor,
    Tap,
    events,
    pytestmark,  # noqa: F401
    start_sensor,  # noqa: F401
    tap,  # noqa: F401
)
from tests.utils.pcaps import PCAPS

SNAP7 = PCAPS / "cisagov__icsnpp-s7comm/tests__traces__snap7.pcap"
STOP_FRAME = 57   # the PLC stop request; the SZL reads of the same host come before it
CORRELATION = "S7 PLC stop after SZL enumeration"
STOP_RULE = "S7comm PLC stop request"


def split_capture(source: Path, frame: int, first: Path, second: Path) -> None:
    """Frames before ``frame`` into ``first``, the rest into ``second``."""
    with source.open("rb") as file:
        reader = dpkt.pcap.Reader(file)
        packets = list(reader)
        linktype = reader.datalink()
    for path, part in ((first, packets[:frame - 1]), (second, packets[frame - 1:])):
        with path.open("wb") as out:
            writer = dpkt.pcap.Writer(out, linktype=linktype)
            for ts, data in part:
                writer.writepkt(data, ts)


def write_config(path: Path, rules: Path, stop_severity: int) -> None:
    path.write_text(f"detection:\n  rules_path: {rules}\n"
                    f"  rules:\n    {STOP_RULE}: {{severity: {stop_severity}}}\n")


def test_sighup_applies_new_rules_and_keeps_correlation_windows(
        tap: Tap, start_sensor: StartSensor, tmp_path: Path) -> None:  # noqa: F811 (fixtures)
    first, second = tmp_path / "first.pcap", tmp_path / "second.pcap"
    split_capture(SNAP7, STOP_FRAME, first, second)
    rules, config, out = tmp_path / "rules", tmp_path / "liaowang.yml", tmp_path / "live.jsonl"
    shutil.copytree(SHIPPED_RULES, rules, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    write_config(config, rules, stop_severity=4)
    sensor = start_sensor("--jsonl", str(out), "--config", str(config))
    sensor.wait_capturing()
    tap.replay(first)

    config.write_text("detection:\n  rules:\n    x: {severity: 9}\n")
    sensor.process.send_signal(signal.SIGHUP)
    refused = sensor.wait_for_line("reload refused")
    assert f"{config}:3: detection.rules.x.severity" in refused

    write_config(config, rules, stop_severity=1)
    (rules / "broken.yml").write_text("title: broken\nlogsource: {service: s7comm}\n"
                                      "detection: {condition: nothing}\n")
    sensor.process.send_signal(signal.SIGHUP)
    assert "broken.yml" in sensor.wait_for_line("rule skipped")
    assert "correlation windows kept" in sensor.wait_for_line("rules reloaded")
    tap.replay(second)
    time.sleep(1.5)   # the sensor writes its sinks every second
    code, stderr = sensor.stop(signal.SIGTERM)
    assert code == 0, stderr

    alerts = {a["rule"]["name"]: a for a in events(out) if a["event"]["kind"] == "alert"}
    assert CORRELATION in alerts, "the window begun before the reload was kept"
    assert len(alerts[CORRELATION]["evidence"]["event_ids"]) == 2
    assert alerts[STOP_RULE]["event"]["severity"] == 1, "the new tuning applies"
