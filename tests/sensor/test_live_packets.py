"""The live sensor's packet buffer: packets sent over a veth pair are kept on disk, and the
packets of an alert raised live are exported from it (``sensor.packet_buffer``)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from liaowang.config import PacketBufferSettings
from pipelines.packets.export import alert_pcap
from tests.sensor.test_live import MODBUS_SMALL, StartSensor, Tap, start_sensor, tap
from tests.utils.tshark import tshark_rows

__all__ = ["start_sensor", "tap"]      # the live tests' fixtures, used here too

# Not the time: the live packets are stamped when they arrive.
PACKET = ("frame.len", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.seq_raw")


def test_an_alert_raised_live_has_its_packets_in_the_buffer(
        tap: Tap, start_sensor: StartSensor, tmp_path: Path) -> None:
    buffer = PacketBufferSettings(path=str(tmp_path / "packets"), max_mb=16)
    config = tmp_path / "liaowang.yml"
    config.write_text(f"sensor:\n  packet_buffer: {{path: {buffer.path}, max_mb: 16}}\n")
    out = tmp_path / "live.jsonl"
    sensor = start_sensor("--jsonl", str(out), "--config", str(config))
    sensor.wait_capturing()
    sent = tap.replay(MODBUS_SMALL, pps=2000)
    code, stderr = sensor.stop(signal.SIGTERM)
    assert code == 0, stderr

    kept = [row for path in sorted(Path(buffer.path).glob("*.pcap"))
            for row in tshark_rows(path, *PACKET)]
    assert kept == tshark_rows(MODBUS_SMALL, *PACKET) and len(kept) == sent
    events = [json.loads(line) for line in out.read_text().splitlines()]
    alert = next(event for event in events if event["event"]["kind"] == "alert")
    assert "log" not in alert and "file" not in alert.get("pcap", {})
    exported = tmp_path / "alert.pcap"
    exported.write_bytes(alert_pcap(alert, buffer).pcap)
    source, destination = alert["source"], alert["destination"]
    flow = (f"ip.addr=={source['ip']} && ip.addr=={destination['ip']} && "
            f"tcp.port=={source['port']} && tcp.port=={destination['port']}")
    packets = tshark_rows(exported, *PACKET)
    assert 1 < len(packets) < len(kept)
    assert packets == tshark_rows(MODBUS_SMALL, *PACKET, display_filter=flow)
