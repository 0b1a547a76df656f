"""``liaowang sensor`` at a real interface: veth pairs in a network namespace of the test's own,
real captures sent with tcpreplay, the sensor a real process stopped by a signal.

Everything happens inside the namespace (the sensor, tcpreplay and the metrics scrape run under
``ip netns exec``), so no replayed packet reaches the machine's own network (``bench.tap``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.tap import SensorProcess, Tap, TapError, open_tap, unavailable
from tests.utils.pcaps import PCAPS

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
ROOT = Path(__file__).resolve().parents[2]
MODBUS_BIG = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusBig.pcap"  # + S7 on 102
MODBUS_SMALL = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap"
MODBUS_OTHER = PCAPS / "OISF__suricata-verify/tests__modbus__modbus.pcap"
VLAN_GTPV2 = PCAPS / "abdessamad-elamrani__traffic-factory/[4G_GTPv2]-simple.pcap"  # 802.1Q
NETNS_PREFIX = "lw-test-"
SUMMARY = re.compile(r"^received=(\d+) dropped=(\d+) decoded=(\d+) malformed=(\d+)", re.M)
UNAVAILABLE = unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")


@pytest.fixture
def tap() -> Iterator[Tap]:
    try:
        with open_tap(NETNS_PREFIX) as made:
            yield made
    except TapError as exc:
        pytest.fail(f"live tests need network namespaces: {exc}", pytrace=False)


StartSensor = Callable[..., SensorProcess]


@pytest.fixture
def start_sensor(tap: Tap, tmp_path: Path) -> Iterator[StartSensor]:
    """Starts ``liaowang sensor`` on ``tap0`` (or the given interfaces) with more arguments."""
    started: list[SensorProcess] = []

    def start(*args: str, interfaces: tuple[str, ...] = ("tap0",)) -> SensorProcess:
        iface_args = [arg for name in interfaces for arg in ("--iface", name)]
        popen = subprocess.Popen(tap.command(LIAOWANG, "sensor", *iface_args, *args),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 cwd=tmp_path)
        started.append(SensorProcess(popen))
        return started[-1]

    yield start
    for sensor in started:
        sensor.end()


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def replayed(pcap: Path) -> list[dict[str, Any]]:
    """The events ``liaowang replay`` gives for the file."""
    done = subprocess.run([LIAOWANG, "replay", str(pcap), "--jsonl", "-"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def modbus_pdus(evs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Modbus events without frame numbers, times or ids: who spoke, and what."""
    return [(e["source"]["ip"], e["source"]["port"], e["destination"]["ip"],
             e["destination"]["port"], e["modbus"]["transaction_id"], e["modbus"]["unit_id"],
             e["modbus"]["function_code"], e["modbus"].get("exception_code"))
            for e in evs if e["event"]["dataset"] == "modbus"]


def summary(stderr: str) -> dict[str, int]:
    match = SUMMARY.search(stderr)
    assert match, stderr
    return dict(zip(("received", "dropped", "decoded", "malformed"), map(int, match.groups()),
                    strict=True))


def test_live_capture_gives_the_events_of_the_file(tap: Tap, start_sensor: StartSensor,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "live.jsonl"
    sensor = start_sensor("--jsonl", str(out))
    sensor.wait_capturing()
    sent = tap.replay(MODBUS_BIG, pps=5000)
    code, stderr = sensor.stop(signal.SIGTERM)
    assert code == 0, stderr
    counts = summary(stderr)
    assert counts["dropped"] == 0
    assert counts["received"] == sent == 13622
    assert counts["decoded"] == sent and counts["malformed"] == 0
    live, offline = events(out), replayed(MODBUS_BIG)
    assert len(modbus_pdus(offline)) > 5000   # the oracle tests check them against tshark
    assert modbus_pdus(live) == modbus_pdus(offline)


PSEUDONYM = re.compile(r"pn:[0-9a-f]{20}")   # live and replay keep keys of their own
NOT_COMPARED = ("@timestamp", "observer", "pcap", "log", "related", "evidence")


def protocol_events(evs: list[dict[str, Any]]) -> list[str]:
    """The analyzers' events and the alerts they raise, without what differs by nature between
    a file and a wire: times, frame numbers, ids and the file's name."""
    kept = []
    for event in evs:
        if event["event"]["kind"] not in ("event", "alert") or event["event"]["dataset"] == "flow":
            continue
        event = {k: v for k, v in event.items() if k not in NOT_COMPARED}
        event["event"] = {k: event["event"][k] for k in ("kind", "dataset")}
        kept.append(PSEUDONYM.sub("pn:", json.dumps(event, sort_keys=True)))
    return sorted(kept)


def incidents(evs: list[dict[str, Any]]) -> list[str]:
    """The last version of each incident, without its times and ids."""
    latest = {e["event"]["id"]: e["incident"] for e in evs if e["event"]["kind"] == "signal"}
    return sorted(json.dumps({k: v for k, v in incident.items()
                              if k not in ("timeline", "alert_ids")}, sort_keys=True)
                  for incident in latest.values())


@pytest.mark.parametrize(("capture", "alerts"), [
    ("ITI__ICS-Security-Tools/pcaps__openics__EIP-RebootorRestart.pcap", 2),   # EtherNet/IP, CIP
    ("cisagov__icsnpp-bacnet/testing__traces__bacnet_error_reject_abort.pcap", 3),   # BACnet/IP
    ("abdessamad-elamrani__traffic-factory/UPF-to-SMF-during-UE-sending-traffic.pcap", 0),  # PFCP
    ("AgentCarter1__S7comm-Plus-Anomaly-Detection/"
     "Wireshark_Paketler__yeni__offline_start_yenimisss.pcapng", 0),             # S7comm-plus
])
def test_every_analyzer_gives_live_what_it_gives_from_the_file(
        tap: Tap, start_sensor: StartSensor, tmp_path: Path, capture: str, alerts: int) -> None:
    out = tmp_path / "live.jsonl"
    sensor = start_sensor("--jsonl", str(out))
    sensor.wait_capturing()
    sent = tap.replay(PCAPS / capture, pps=20000)
    code, stderr = sensor.stop(signal.SIGTERM)
    assert code == 0, stderr
    assert summary(stderr)["received"] == sent
    live_items, file_items = events(out), replayed(PCAPS / capture)
    live, offline = protocol_events(live_items), protocol_events(file_items)
    assert len(offline) >= 10 and live == offline
    assert sum('"kind": "alert"' in item for item in offline) == alerts
    assert incidents(live_items) == incidents(file_items)
    assert len(incidents(file_items)) == (alerts > 0)


def test_a_capture_filter_keeps_only_what_it_names(tap: Tap, start_sensor: StartSensor,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "live.jsonl"
    sensor = start_sensor("--jsonl", str(out), "--bpf", "tcp port 502")
    sensor.wait_capturing()
    tap.replay(MODBUS_BIG, pps=8000)
    code, stderr = sensor.stop()
    assert code == 0, stderr
    offline = replayed(MODBUS_BIG)
    offline_flows = [e for e in offline if e["event"]["dataset"] == "flow"]
    assert set().union(*map(_ports, offline_flows)) >= {502, 102}  # S7 is there too
    modbus_flows = [e for e in offline_flows if 502 in _ports(e)]
    live = events(out)
    live_flows = [e for e in live if e["event"]["dataset"] == "flow"]
    assert live_flows and all(502 in _ports(e) for e in live_flows)
    assert len(live_flows) == len(modbus_flows)
    assert summary(stderr)["received"] == sum(e["network"]["packets"] for e in modbus_flows)
    assert modbus_pdus(live) == modbus_pdus(offline)


def _ports(event: dict[str, Any]) -> set[int]:
    return {event["source"].get("port"), event["destination"].get("port")}


def test_a_bad_capture_filter_is_refused_with_the_reason(tap: Tap) -> None:
    done = subprocess.run(tap.command(LIAOWANG, "sensor", "--iface", "tap0", "--jsonl", "-",
                                      "--bpf", "tcp portt 502"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "bad BPF filter 'tcp portt 502'" in done.stderr and "syntax error" in done.stderr


@pytest.mark.parametrize(("args", "reason"), [
    (["--iface", "nosuch0"], "nosuch0: no such interface"),
    (["--iface", "tap0", "--iface", "tap1", "--iface", "tap0"],
     "tap0: the interface is named more than once"),
    (["--iface", "tap0", "--metrics-port", "70000"], "metrics port 70000: not a port number"),
], ids=["unknown-interface", "interface-twice", "bad-metrics-port"])
def test_what_cannot_be_opened_is_refused_with_the_reason(tap: Tap, args: list[str],
                                                          reason: str) -> None:
    done = subprocess.run(tap.command(LIAOWANG, "sensor", *args, "--jsonl", "-"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"liaowang: {reason}") and done.stderr.count("\n") == 1


def test_a_metrics_port_in_use_is_refused(tap: Tap, start_sensor: StartSensor,
                                          tmp_path: Path) -> None:
    first = start_sensor("--jsonl", str(tmp_path / "first.jsonl"), "--metrics-port", "9108")
    first.wait_capturing()
    done = subprocess.run(tap.command(LIAOWANG, "sensor", "--iface", "tap1", "--jsonl", "-",
                                      "--metrics-port", "9108"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == "liaowang: metrics port 127.0.0.1:9108: Address already in use\n"
    assert first.stop()[0] == 0


def test_vlan_tags_the_kernel_took_out_are_put_back(tap: Tap, start_sensor: StartSensor,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "live.jsonl"
    sensor = start_sensor("--jsonl", str(out))
    sensor.wait_capturing()
    tap.replay(VLAN_GTPV2)
    code, stderr = sensor.stop()
    assert code == 0, stderr
    live, offline = flow_totals(events(out)), flow_totals(replayed(VLAN_GTPV2))
    assert {vlan for vlan, _ in offline} == {300, 590}
    assert live == offline


def flow_totals(evs: list[dict[str, Any]]) -> dict[tuple[Any, str], tuple[int, int]]:
    """Packets and bytes per (VLAN id, Community ID), however the flows were cut in time."""
    totals: dict[tuple[Any, str], tuple[int, int]] = {}
    for e in evs:
        if e["event"]["dataset"] == "flow":
            key = (e["network"].get("vlan", {}).get("id"), e["network"]["community_id"])
            packets, size = totals.get(key, (0, 0))
            totals[key] = (packets + e["network"]["packets"], size + e["network"]["bytes"])
    return totals


def test_several_interfaces_are_read_together(tap: Tap, start_sensor: StartSensor,
                                              tmp_path: Path) -> None:
    out = tmp_path / "live.jsonl"
    sensor = start_sensor("--jsonl", str(out), interfaces=tap.taps)
    sensor.wait_capturing()
    sent = [tap.replay(MODBUS_SMALL, feed=0), tap.replay(MODBUS_OTHER, feed=1)]
    code, stderr = sensor.stop()
    assert code == 0, stderr
    assert f"tap0: received={sent[0]} dropped=0" in stderr
    assert f"tap1: received={sent[1]} dropped=0" in stderr
    assert summary(stderr)["received"] == sum(sent)
    expected = modbus_pdus(replayed(MODBUS_SMALL)) + modbus_pdus(replayed(MODBUS_OTHER))
    assert sorted(modbus_pdus(events(out)), key=str) == sorted(expected, key=str)


def test_metrics_are_served_while_running(tap: Tap, start_sensor: StartSensor,
                                          tmp_path: Path) -> None:
    port = 9108  # the namespace is the test's own: the port is free
    sensor = start_sensor("--jsonl", str(tmp_path / "live.jsonl"), "--metrics-port", str(port))
    sensor.wait_capturing()
    sent = tap.replay(MODBUS_SMALL)
    packets = 'liaowang_sensor_packets_total{interface="tap0"}'
    modbus = 'liaowang_sensor_events_total{dataset="modbus"}'
    deadline = time.monotonic() + 10
    metrics = tap.metrics(port)
    while metrics[packets] < sent or modbus not in metrics:  # read, then processed
        assert time.monotonic() < deadline, metrics
        time.sleep(0.2)
        metrics = tap.metrics(port)
    assert metrics[packets] == sent > 0
    assert metrics['liaowang_sensor_kernel_drops_total{interface="tap0"}'] == 0
    assert metrics['liaowang_sensor_bytes_total{interface="tap0"}'] > 0
    assert metrics[modbus] > 0
    assert metrics["liaowang_sensor_flows_active"] >= 0  # flows may have ended already
    assert metrics["liaowang_sensor_weirds_unreported_total"] == 0
    assert 0 <= metrics["liaowang_sensor_lag_seconds"] < 60
    code, stderr = sensor.stop(signal.SIGINT)
    assert code == 0, stderr
    assert summary(stderr)["received"] == sent


def test_the_live_benchmark_counts_what_it_sent(tmp_path: Path) -> None:
    """``bench.live`` end to end on a small real capture: every packet sent is received, at
    a rate the sensor keeps up with, in both modes."""
    done = subprocess.run([sys.executable, "-m", "bench.live", str(MODBUS_BIG), "--pps", "5000",
                           "--modes", "flows,full"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"^\| (flows|full) \| 5,000 \| 13,622 \| 13,622 \| 0 \| 0\.00% \| (\d+) \| "
                      r"[\d,]+ \| (\d+)% \|$", done.stdout, re.M)
    assert [mode for mode, _, _ in rows] == ["flows", "full"], done.stdout
    assert rows[0][1] == rows[1][1] != "0"      # the same flows, with or without analyzers
    # 5,000 packets a second is a light load for either mode, and more of one with analyzers
    assert int(rows[0][2]) <= int(rows[1][2]) < 50
