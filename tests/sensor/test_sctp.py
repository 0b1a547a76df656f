"""SCTP user messages reach analyzers whole, with their payload protocol id."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest

from sensor.analyzers.base import AnalyzerSpec, Parsed
from sensor.capture import CaptureFile
from sensor.engine import Sensor
from sensor.sctp import SctpMessages
from tests.utils.pcaps import PCAPS

NGAP_CAPTURE = PCAPS / "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng"


def data_chunk(flags: int, stream: int, ppid: int, data: bytes) -> bytes:
    length = 16 + len(data)
    header = bytes([0, flags]) + length.to_bytes(2, "big") + bytes(4)
    chunk = header + stream.to_bytes(2, "big") + bytes(2) + ppid.to_bytes(4, "big") + data
    return chunk + bytes(-len(chunk) % 4)


def test_bundled_chunks_come_out_as_separate_messages() -> None:
    packet = data_chunk(3, 0, 60, b"first") + data_chunk(3, 1, 46, b"second")
    messages = SctpMessages().add(packet)
    assert [(m.stream, m.ppid, m.data) for m in messages] == [(0, 60, b"first"),
                                                               (1, 46, b"second")]


def test_a_message_split_over_chunks_is_joined() -> None:
    messages = SctpMessages()
    assert messages.add(data_chunk(2, 4, 60, b"hel")) == []
    assert messages.add(data_chunk(0, 4, 60, b"lo ")) == []
    (whole,) = messages.add(data_chunk(1, 4, 60, b"world"))
    assert whole.data == b"hello world"


def test_garbage_chunks_are_ignored() -> None:
    assert SctpMessages().add(b"\x00\x03\x00\x02" + bytes(40)) == []
    assert SctpMessages().add(data_chunk(1, 9, 60, b"orphan end")) == []


def recorder() -> AnalyzerSpec:
    """An analyzer that accepts any message and reports its size."""
    return AnalyzerSpec(name="ngap", transport="sctp", ports=(38412,),
                        probe=lambda data: True, parse=lambda data, _: Parsed(data, len(data)),
                        to_event=lambda data, _: {"ngap": {"size": len(data)}}, ppids=(60,))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_every_ngap_message_of_a_real_capture_reaches_the_analyzer() -> None:
    sensor = Sensor("t", analyzers=(recorder(),), strict=True)
    events = []
    for block in CaptureFile(NGAP_CAPTURE).blocks(4096):
        events += sensor.process_block(block)
    frames = Counter(e["pcap"]["frame"] for e in events if "ngap" in e)
    out = subprocess.run(["tshark", "-r", str(NGAP_CAPTURE), "-Y", "ngap", "-T", "fields",
                          "-e", "frame.number", "-e", "sctp.data_payload_proto_id"],
                         capture_output=True, text=True, check=True).stdout
    expected = Counter()
    for line in out.splitlines():
        number, ppids = line.split("\t")
        expected[int(number)] += sum(p == "60" for p in ppids.split(","))
    assert frames == +expected
    assert sum(frames.values()) > 1000

