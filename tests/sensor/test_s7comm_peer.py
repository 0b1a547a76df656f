"""S7comm from a real peer: a python-snap7 client reads and writes a data block of a
python-snap7 server on the loopback interface, captured by dumpcap and fed to the sensor.

The server listens on a free port instead of 102; the sensor gets the S7comm analyzer
registered for that port (ports are only hints to the dispatcher).
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import s7comm
from tests.utils.pcaps import run_sensor

snap7 = pytest.importorskip("snap7")
pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")

DB_NUMBER, START, WRITTEN = 3, 4, b"\x11\x22\x33\x44"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def capture(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port, pcap = free_port(), tmp_path / "snap7.pcapng"
    dumpcap = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {port}",
                                "-w", str(pcap)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: pcap.exists() and pcap.stat().st_size > 0)
        yield pcap, port
    finally:
        time.sleep(0.5)  # let the last segments reach the capture
        dumpcap.send_signal(signal.SIGINT)
        dumpcap.wait(timeout=10)


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("dumpcap did not start")
        time.sleep(0.05)


def talk_to_snap7_server(port: int) -> bytes:
    server = snap7.server.Server(log=False)
    server.register_area(snap7.type.SrvArea.DB, DB_NUMBER, bytearray(16))
    server.start(tcp_port=port)
    client = snap7.client.Client()
    try:
        client.connect("127.0.0.1", 0, 1, tcp_port=port)
        client.db_write(DB_NUMBER, START, bytearray(WRITTEN))
        read = bytes(client.db_read(DB_NUMBER, START, len(WRITTEN)))
        client.disconnect()
    finally:
        client.destroy()
        server.stop()
        server.destroy()
    return read


def test_the_sensor_sees_setup_write_and_read_of_a_snap7_peer(capture) -> None:
    _, port = capture
    assert talk_to_snap7_server(port) == WRITTEN
    time.sleep(0.5)
    analyzer = dataclasses.replace(s7comm.ANALYZER, ports=(port,))
    events = [e for e in run_sensor_after_capture(capture, analyzer)
              if e["event"]["dataset"] != "flow"]
    assert all(validate(e) == [] for e in events)
    s7 = [e["s7comm"] for e in events if e["event"]["dataset"] == "s7comm"]
    by_name = {(f.get("rosctr_name"), f.get("function_name")): f for f in s7}
    assert [f["cotp"]["type_name"] for f in s7 if f["protocol"] == "cotp"][:2] == ["CR", "CC"]
    assert by_name[("ack_data", "setup_communication")]["pdu_length"] > 0
    for function in ("write_var", "read_var"):
        job = by_name[("job", function)]
        assert (job["item_area_name"], job["item_db"], job["item_address"],
                job["item_length"]) == (["data_block"], [DB_NUMBER], [START], [len(WRITTEN)])
        assert by_name[("ack_data", function)]["return_code_names"] == ["success"]


def run_sensor_after_capture(capture: tuple[Path, int], analyzer: Any
                             ) -> list[dict[str, Any]]:
    pcap, _ = capture
    deadline = time.monotonic() + 10
    while True:  # dumpcap writes as packets come: wait until the exchange is in the file
        events = run_sensor(pcap, analyzers=(analyzer,))
        if any(e.get("s7comm", {}).get("function_name") == "read_var"
               and e["s7comm"].get("rosctr") == 3 for e in events) \
                or time.monotonic() > deadline:
            return events
        time.sleep(0.2)
