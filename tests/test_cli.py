"""The ``liaowang`` command as a user runs it: a real process, real captures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from liaowang.schema import validate
from tests.utils.pcaps import PCAPS

LIAOWANG = [str(Path(sys.executable).with_name("liaowang"))]
SMALL_MODBUS = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIAOWANG, *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_replay_writes_json_lines_to_stdout_and_a_summary_to_stderr() -> None:
    done = run("replay", str(SMALL_MODBUS), "--jsonl", "-")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    datasets = [e["event"]["dataset"] for e in events if e["event"]["kind"] == "event"]
    assert datasets.count("modbus") == 32 and datasets.count("flow") == 19
    assert all(validate(e) == [] for e in events)
    (alert,) = [e for e in events if e["event"]["kind"] == "alert"]   # its writes match a rule
    assert alert["modbus"]["function_code"] in (15, 16) and alert["rule"]["id"]
    first = next(e for e in events if e["event"]["dataset"] == "modbus")
    assert first["pcap"] == {"file": SMALL_MODBUS.name, "frame": 4}
    assert first["modbus"]["function_code"] == 15
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("packets=166 flows=19 events=51 alerts=1 malformed=0 packets/s=")


def test_replay_of_several_files_to_a_jsonl_file(tmp_path) -> None:
    out = tmp_path / "events.jsonl"
    other = PCAPS / "OISF__suricata-verify/tests__modbus__modbus.pcap"
    done = run("replay", str(SMALL_MODBUS), str(other), "--jsonl", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # Events and alerts come from frames; incidents (``signal``) summarise alerts instead.
    files = {e["pcap"]["file"] for e in lines if e["event"]["kind"] != "signal"}
    assert files == {SMALL_MODBUS.name, other.name}


@pytest.mark.parametrize(("capture", "least_alerts"), [
    ("cisagov__icsnpp-bacnet/testing__traces__bacnet_example.pcap", 4),   # flow correlations
    ("zeek__zeek/testing__btest__Traces__dnp3__dnp3.pcap", 3),
])
def test_nothing_depends_on_the_replay_block_size(tmp_path, capture: str,
                                                 least_alerts: int) -> None:
    """Flows end on a grid of packet time, the sensor's events come in the order of the
    packets that made them, each alert right after the event that raised it, and fusion and
    incidents move their clocks item by item: the same stream whatever the block size, events
    and alerts in the same order, and the same incidents."""
    streams, incidents = {}, {}
    for frames in (5, 4096):
        config, out = tmp_path / f"{frames}.yml", tmp_path / f"{frames}.jsonl"
        config.write_text(f"sensor: {{batch_size: {frames}}}\n")
        done = run("replay", str(PCAPS / capture), "--config", str(config), "--jsonl", str(out))
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        streams[frames] = [e for e in lines if e["event"]["kind"] != "signal"]
        incidents[frames] = {e["event"]["id"]: e for e in lines if e["event"]["kind"] == "signal"}
    assert streams[5] == streams[4096]
    assert sum(e["event"]["kind"] == "alert" for e in streams[5]) >= least_alerts
    assert incidents[5] == incidents[4096] and incidents[5]


def test_a_missing_capture_is_refused_with_one_line_and_exit_code_2(tmp_path) -> None:
    done = run("replay", str(SMALL_MODBUS), str(tmp_path / "absent.pcap"), "--jsonl", "-")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "absent.pcap" in done.stderr


def test_a_file_that_is_not_a_capture_is_refused(tmp_path) -> None:
    notes = tmp_path / "notes.pcap"
    notes.write_text("these are not packets")
    done = run("replay", str(notes), "--jsonl", "-")
    assert done.returncode == 2
    assert "not a pcap or pcapng capture" in done.stderr


def test_a_truncated_capture_is_processed_up_to_the_break(tmp_path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(SMALL_MODBUS.read_bytes()[:7000])
    done = run("replay", str(cut), "--jsonl", "-")
    assert done.returncode == 0
    assert done.stdout.count('"dataset":"modbus"') > 0
    assert f"truncated: {cut}" in done.stderr


def test_a_bad_configuration_is_refused_with_file_line_and_key(tmp_path) -> None:
    config = tmp_path / "bad.yml"
    config.write_text("sensor:\n  flows:\n    idle_timeout: soon\n")
    done = run("replay", str(SMALL_MODBUS), "--jsonl", "-", "--config", str(config))
    assert done.returncode == 2
    assert f"{config}:3: sensor.flows.idle_timeout:" in done.stderr


SNAP7 = PCAPS / "cisagov__icsnpp-s7comm/tests__traces__snap7.pcap"


def datasets_of(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert done.returncode == 0, done.stderr
    found: dict[str, int] = {}
    for line in done.stdout.splitlines():
        event = json.loads(line)["event"]
        if event["kind"] == "event":
            found[event["dataset"]] = found.get(event["dataset"], 0) + 1
    return found


def test_only_the_analyzers_named_run_and_flows_are_metered_either_way() -> None:
    every = datasets_of(run("replay", str(SMALL_MODBUS), str(SNAP7), "--jsonl", "-"))
    s7_only = datasets_of(run("replay", str(SMALL_MODBUS), str(SNAP7), "--jsonl", "-",
                              "--analyzers", "s7comm"))
    flows_only = datasets_of(run("replay", str(SMALL_MODBUS), str(SNAP7), "--jsonl", "-",
                                 "--analyzers", "none"))
    assert every["modbus"] == 32 and every["s7comm"] > 10
    assert s7_only == {"flow": every["flow"], "s7comm": every["s7comm"]}
    assert flows_only == {"flow": every["flow"]}


def test_an_unknown_analyzer_is_refused_with_the_known_ones() -> None:
    done = run("replay", str(SMALL_MODBUS), "--jsonl", "-", "--analyzers", "modbus,modbsu")
    assert done.returncode == 2
    assert "unknown analyzer 'modbsu'" in done.stderr and "s7comm" in done.stderr


EXIT_PROBE = """
import atexit, gc, sys
from console.program import main
atexit.register(lambda: print(gc.get_freeze_count(), gc.isenabled()))
sys.argv[0] = "liaowang"
sys.exit(main())
"""


def test_the_program_hands_what_is_left_to_reference_counting_before_it_exits() -> None:
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE, "replay", str(SMALL_MODBUS),
                           "--jsonl", "/dev/null"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    frozen, collecting = done.stdout.split()
    assert int(frozen) > 10_000      # the rule pack and configuration, out of gc's walks
    assert collecting == "True"      # cycles made while running are still collected
    assert done.stderr.strip().splitlines()[-1].startswith("packets=166 flows=19 ")
