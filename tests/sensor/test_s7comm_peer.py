"""S7comm from a real peer: a python-snap7 client reads and writes a data block of a
python-snap7 server on the loopback interface, captured by dumpcap and fed to the sensor.

The server listens on a free port instead of 102; the sensor gets the S7comm analyzer
registered for that port (ports are only hints to the dispatcher).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from liaowang.schema import validate
from sensor.analyzers import s7comm
from tests.utils.loopback import free_port, loopback_capture
from tests.utils.pcaps import run_sensor

snap7 = pytest.importorskip("snap7")
pytestmark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap not installed")

DB_NUMBER, START, WRITTEN = 3, 4, b"\x11\x22\x33\x44"


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


def test_the_sensor_sees_setup_write_and_read_of_a_snap7_peer(tmp_path: Path) -> None:
    port, pcap = free_port(), tmp_path / "snap7.pcapng"
    with loopback_capture(pcap, port):
        assert talk_to_snap7_server(port) == WRITTEN
    analyzer = dataclasses.replace(s7comm.ANALYZER, ports=(port,))
    events = [e for e in run_sensor(pcap, analyzers=(analyzer,))
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

