"""IEC 60870-5-104 from a real peer: a c104 client sends a single command and a scaled
set-point to a c104 server on the loopback interface, captured by dumpcap and fed to the sensor.

The server listens on a free port instead of 2404; the sensor gets the IEC 104 analyzer
registered for that port (ports are only hints to the dispatcher).
"""

# no ``from __future__ import annotations``: c104 checks a callback's annotations as objects

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
from sensor.analyzers import iec104
from tests.utils.pcaps import run_sensor

c104 = pytest.importorskip("c104")
pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")

COMMON_ADDRESS, SWITCH_IOA, SETPOINT_IOA, SETPOINT = 47, 5002, 5001, 1234


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Any, what: Any, timeout: float = 10.0) -> None:
    """Wait until ``condition()``; ``what`` (a text, or a callable giving one) says what failed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what() if callable(what) else what)
        time.sleep(0.05)


@pytest.fixture()
def capture(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port, pcap = free_port(), tmp_path / "c104.pcapng"
    dumpcap = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {port}",
                                "-w", str(pcap)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: pcap.exists() and pcap.stat().st_size > 0, "dumpcap did not start")
        yield pcap, port
    finally:
        dumpcap.send_signal(signal.SIGINT)
        dumpcap.wait(timeout=10)


def _recorder(received: list[Any]) -> Any:
    def on_receive(point: c104.Point, previous_info: c104.Information,
                   message: c104.IncomingMessage) -> c104.ResponseState:
        received.append((point.io_address, point.value))
        return c104.ResponseState.SUCCESS
    return on_receive


def send_commands(port: int) -> list[Any]:
    """Start a server with two command points, have a client send both; what the server got."""
    received: list[Any] = []
    server = c104.Server(ip="127.0.0.1", port=port)
    station = server.add_station(common_address=COMMON_ADDRESS)
    for ioa, kind in ((SWITCH_IOA, c104.Type.C_SC_NA_1), (SETPOINT_IOA, c104.Type.C_SE_NB_1)):
        point = station.add_point(io_address=ioa, type=kind)
        point.on_receive(callable=_recorder(received))
    server.start()
    client = c104.Client()
    connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
    remote = connection.add_station(common_address=COMMON_ADDRESS)
    switch = remote.add_point(io_address=SWITCH_IOA, type=c104.Type.C_SC_NA_1)
    setpoint = remote.add_point(io_address=SETPOINT_IOA, type=c104.Type.C_SE_NB_1)
    try:
        client.start()
        wait_for(lambda: connection.is_connected, "the client did not connect")
        # Commands need data transfer started (STARTDT confirmed); on a busy machine the
        # client's first STARTDT can go unanswered and leave it muted, so it asks again.
        wait_for(lambda: connection.state == c104.ConnectionState.OPEN or connection.unmute(),
                 lambda: f"the client did not start data transfer: {connection.state}")
        switch.value = True
        setpoint.value = c104.Int16(SETPOINT)
        assert switch.transmit(cause=c104.Cot.ACTIVATION), "the switch command was not confirmed"
        assert setpoint.transmit(cause=c104.Cot.ACTIVATION), "the set-point was not confirmed"
        wait_for(lambda: len(received) == 2, "the server did not receive both commands")
        time.sleep(0.2)   # the confirmations, so that the capture holds whole exchanges
    finally:
        client.stop()
        server.stop()
    return received


def test_the_sensor_sees_the_commands_of_a_c104_client(capture) -> None:
    pcap, port = capture
    assert [ioa for ioa, _ in send_commands(port)] == [SWITCH_IOA, SETPOINT_IOA]
    analyzer = dataclasses.replace(iec104.ANALYZER, ports=(port,))
    time.sleep(0.5)
    events = [e for e in run_sensor(pcap, analyzers=(analyzer,))
              if e["event"]["dataset"] != "flow"]
    assert all(validate(e) == [] for e in events)
    frames = [e["iec104"] for e in events if e["event"]["dataset"] == "iec104"]
    assert "STARTDT_act" in [f.get("u_function_name") for f in frames]
    commands = {(f["type_name"], f["cot_name"], f["is_response"]): f
                for f in frames if f["apci_type"] == "I"}
    switch = commands[("C_SC_NA_1", "act", False)]
    assert (switch["common_address"], switch["ioa"], switch["value"], switch["select"]) == \
        (COMMON_ADDRESS, [SWITCH_IOA], [1], [False])
    setpoint = commands[("C_SE_NB_1", "act", False)]
    assert (setpoint["ioa"], setpoint["value"]) == ([SETPOINT_IOA], [SETPOINT])
    assert ("C_SC_NA_1", "actcon", True) in commands
