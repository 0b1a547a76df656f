"""IEC 60870-5-104 from a real peer: a c104 client sends a single command and a scaled
set-point to a c104 server on the loopback interface, captured by dumpcap and fed to the sensor.

The server listens on a free port instead of 2404; the sensor gets the IEC 104 analyzer
registered for that port (ports are only hints to the dispatcher).
"""

# no ``from __future__ import annotations``: c104 checks a callback's annotations as objects

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import iec104
from tests.utils.loopback import free_port, loopback_capture, wait_for
from tests.utils.pcaps import run_sensor

c104 = pytest.importorskip("c104")
pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")

COMMON_ADDRESS, SWITCH_IOA, SETPOINT_IOA, SETPOINT = 47, 5002, 5001, 1234


def _recorder(received: list[Any]) -> Any:
    def on_receive(point: c104.Point, previous_info: c104.Information,
                   message: c104.IncomingMessage) -> c104.ResponseState:
        received.append((point.io_address, point.value))
        return c104.ResponseState.SUCCESS
    return on_receive


def start_data_transfer(connection: c104.Connection) -> None:
    """Unmute until the server has confirmed STARTDT: commands sent before that are refused."""
    def is_open() -> bool:
        if connection.state == c104.ConnectionState.OPEN_MUTED:
            connection.unmute()
        return connection.state == c104.ConnectionState.OPEN
    wait_for(is_open, lambda: f"the client did not start data transfer: {connection.state}")


def send_commands(port: int) -> list[Any]:
    """Start a server with two command points, have a client send both; what the server got."""
    received: list[Any] = []
    server = c104.Server(ip="127.0.0.1", port=port)
    station = server.add_station(common_address=COMMON_ADDRESS)
    for ioa, kind in ((SWITCH_IOA, c104.Type.C_SC_NA_1), (SETPOINT_IOA, c104.Type.C_SE_NB_1)):
        point = station.add_point(io_address=ioa, type=kind)
        point.on_receive(callable=_recorder(received))
    server.start()
    client = c104.Client(command_timeout_ms=3000)
    connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
    remote = connection.add_station(common_address=COMMON_ADDRESS)
    switch = remote.add_point(io_address=SWITCH_IOA, type=c104.Type.C_SC_NA_1)
    setpoint = remote.add_point(io_address=SETPOINT_IOA, type=c104.Type.C_SE_NB_1)
    try:
        client.start()
        start_data_transfer(connection)
        switch.value = True
        setpoint.value = c104.Int16(SETPOINT)
        # What the sensor must see is on the wire; the client's own wait for each confirmation
        # can miss one on a busy machine, so its answer is not the measure here.
        switch.transmit(cause=c104.Cot.ACTIVATION)
        setpoint.transmit(cause=c104.Cot.ACTIVATION)
        wait_for(lambda: len(received) == 2, "the server did not receive both commands")
        time.sleep(0.2)   # the confirmations, so that the capture holds whole exchanges
    finally:
        client.stop()
        server.stop()
    return received


def test_the_sensor_sees_the_commands_of_a_c104_client(tmp_path: Path) -> None:
    port, pcap = free_port(), tmp_path / "c104.pcapng"
    with loopback_capture(pcap, port):
        assert [ioa for ioa, _ in send_commands(port)] == [SWITCH_IOA, SETPOINT_IOA]
    analyzer = dataclasses.replace(iec104.ANALYZER, ports=(port,))
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
