"""The rolling packet buffer: bounded on disk, oldest segments first out, readable by tshark
while written; and an alert's packets exported from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.sigma import SigmaDetector
from liaowang.config import PacketBufferSettings
from pipelines.packets.buffer import PacketBuffer, segments
from pipelines.packets.export import NoPackets, alert_pcap
from sensor.capture import CaptureFile
from tests.utils.pcaps import PCAPS, run_sensor
from tests.utils.tshark import tshark_rows

MODBUS_BIG = PCAPS / "zeek__zeek" / "testing__btest__Traces__modbus__modbusBig.pcap"
MODBUS_SMALL = PCAPS / "zeek__zeek" / "testing__btest__Traces__modbus__modbusSmall.pcap"
PACKET = ("frame.time_epoch", "frame.len", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport")


def fill(folder: Path, capture: Path, max_bytes: int, segment_s: float) -> PacketBuffer:
    buffer = PacketBuffer(folder, max_bytes=max_bytes, segment_s=segment_s)
    for block in CaptureFile(capture).blocks(512):
        buffer.write([block.frame(i) for i in range(len(block))])
    return buffer


def test_the_buffer_keeps_the_newest_packets_within_its_bound(tmp_path: Path) -> None:
    buffer = fill(tmp_path, MODBUS_BIG, max_bytes=200_000, segment_s=1)
    kept = sorted(tmp_path.glob("*.pcap"))
    assert len(kept) > 3
    assert sum(path.stat().st_size for path in kept) <= 200_000
    rows = [row for path in kept for row in tshark_rows(path, *PACKET)]
    everything = tshark_rows(MODBUS_BIG, *PACKET)
    assert len(rows) < len(everything)
    assert rows == everything[-len(rows):]  # the newest packets, in order, to the nanosecond
    buffer.close()


def test_segments_are_found_by_time(tmp_path: Path) -> None:
    fill(tmp_path, MODBUS_BIG, max_bytes=1 << 30, segment_s=5).close()
    starts = sorted(int(path.stem) for path in tmp_path.glob("*.pcap"))
    assert len(starts) > 3
    middle = segments(tmp_path, starts[1] + 1, starts[2] + 1)
    assert [int(path.stem) for path in middle] == starts[1:3]
    assert segments(tmp_path / "missing", 0, 2**62) == []


def test_a_buffer_reopened_counts_what_it_holds(tmp_path: Path) -> None:
    fill(tmp_path, MODBUS_SMALL, max_bytes=1 << 30, segment_s=3600).close()
    again = PacketBuffer(tmp_path, max_bytes=100, segment_s=3600)
    assert sum(again.sizes.values()) == MODBUS_SMALL.stat().st_size
    fill(tmp_path, MODBUS_SMALL, max_bytes=100, segment_s=3600).close()
    assert len(list(tmp_path.glob("*.pcap"))) == 1   # only the segment being written is left


def test_an_alert_seen_live_is_exported_from_the_buffer(tmp_path: Path) -> None:
    fill(tmp_path, MODBUS_SMALL, max_bytes=1 << 30, segment_s=10).close()
    events = run_sensor(MODBUS_SMALL)
    alert = next(a for a in SigmaDetector.load().process(events))
    alert.pop("pcap")           # a live alert names no capture file and no frame number
    export = alert_pcap(alert, PacketBufferSettings(path=str(tmp_path)))
    assert export.source == "buffer"
    exported = tmp_path / "alert.pcap"
    exported.write_bytes(export.pcap)
    source, destination = alert["source"], alert["destination"]
    flow = (f"ip.addr=={source['ip']} && ip.addr=={destination['ip']} && "
            f"tcp.port=={source['port']} && tcp.port=={destination['port']}")
    assert tshark_rows(exported, *PACKET) == tshark_rows(MODBUS_SMALL, *PACKET,
                                                         display_filter=flow)


def test_without_a_source_the_export_says_why(tmp_path: Path) -> None:
    alert = {"@timestamp": "2026-01-01T00:00:00.000000Z", "event": {"kind": "alert"},
             "source": {"ip": "10.0.0.1", "port": 1}, "destination": {"ip": "10.0.0.2",
                                                                     "port": 502},
             "network": {"transport": "tcp"}}
    with pytest.raises(NoPackets, match=r"no sensor\.packet_buffer is configured"):
        alert_pcap(alert, None)
    with pytest.raises(NoPackets, match="no packets of this alert's flow in the buffer"):
        alert_pcap(alert, PacketBufferSettings(path=str(tmp_path)))
    with pytest.raises(NoPackets, match="names no flow"):
        alert_pcap({"event": {"kind": "alert"}}, None)
