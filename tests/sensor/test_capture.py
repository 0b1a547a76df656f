"""Capture files: every public capture reads completely; bad files are refused."""

from __future__ import annotations

import struct
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sensor.capture as capture_module
from sensor.capture import CaptureError, CaptureFile, Frame
from sensor.engine import Sensor
from tests.utils.pcaps import PCAPS, manifest, sensor_events

ROWS = manifest()


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_every_public_capture_reads_all_its_frames(row: dict[str, str]) -> None:
    capture = CaptureFile(PCAPS / row["path"])
    frames = list(capture)
    assert len(frames) == int(row["packets"])
    assert not capture.truncated
    assert [f.number for f in frames[:3]] == list(range(1, min(3, len(frames)) + 1))


def test_pcapng_big_endian_obsolete_packet_blocks_keep_their_timestamps() -> None:
    frames = list(CaptureFile(PCAPS / "secdev__scapy/test__pcaps__pfcp.pcap"))
    assert frames[0].ts_ns == 1586191795010193000  # tshark: frame.time_epoch
    assert frames[0].linktype == 101


def test_a_file_that_is_not_a_capture_is_refused(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(CaptureError, match="not a pcap or pcapng capture"):
        CaptureFile(path)


def test_a_missing_file_is_refused(tmp_path) -> None:
    with pytest.raises(CaptureError, match="No such file"):
        CaptureFile(tmp_path / "absent.pcap")


def test_a_device_is_refused() -> None:
    with pytest.raises(CaptureError, match="not a regular file"):
        CaptureFile("/dev/null")


def test_a_truncated_capture_is_read_up_to_the_break(tmp_path) -> None:
    whole = (PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: len(whole) // 2])
    capture = CaptureFile(cut)
    frames = list(capture)
    assert capture.truncated
    assert 0 < len(frames) < 166


def test_nanosecond_pcap_timestamps_are_exact(tmp_path) -> None:
    header = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 1_700_000_000, 123_456_789, 4, 60) + b"\x00" * 4
    path = tmp_path / "ns.pcap"
    path.write_bytes(header + record)
    (frame,) = CaptureFile(path)
    assert frame.ts_ns == 1_700_000_000_123_456_789
    assert frame.wire_len == 60


def block(kind: int, body: bytes) -> bytes:
    """A pcapng block, little-endian."""
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def pcapng(*packets: tuple[int, bytes], interface: bytes = struct.pack("<HHI", 1, 0, 65535)
           ) -> bytes:
    """A little-endian pcapng of Ethernet packets at microsecond ``ticks``."""
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += block(1, interface)
    for ticks, frame in packets:
        data += block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                     len(frame)) + frame)
    return data


def test_a_timestamp_beyond_what_nanoseconds_hold_is_read_as_the_last_they_hold(tmp_path) -> None:
    """A damaged pcapng timestamp (here every bit set) does not stop the reading."""
    frame = bytes(60)
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(pcapng((2**64 - 1, frame), (1_700_000_000_000_000, frame)))
    capture = CaptureFile(path)
    assert [f.ts_ns for f in capture] == [2**63 - 1, 1_700_000_000_000_000_000]
    assert not capture.truncated


def test_packets_of_a_damaged_interface_block_are_reported_not_fatal(tmp_path) -> None:
    """An interface description block with no body: its packets are read, and the sensor
    reports them as of a link type it cannot decode."""
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(pcapng((1_700_000_000_000_000, bytes(60)), interface=b""))
    (frame,) = CaptureFile(path)
    sensor = Sensor("lab")
    (weird,) = sensor.process([frame]) + sensor.finish()
    assert weird["weird"]["name"] == "unsupported_linktype_65535"


DAMAGEABLE = [PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap",
              PCAPS / "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DAMAGEABLE), st.floats(0.0, 1.0),
       st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=200))
def test_a_damaged_capture_is_read_as_far_as_it_goes(tmp_path_factory, source, keep: float,
                                                     flips: list[tuple[float, int]]) -> None:
    """Cut short, with bytes flipped anywhere after the file header: reading and sensing never
    raise."""
    data = bytearray(source.read_bytes())
    data = data[:max(25, int(len(data) * keep))]
    for where, mask in flips:
        data[24 + int(where * (len(data) - 25))] ^= mask
    path = tmp_path_factory.mktemp("damaged") / source.name
    path.write_bytes(bytes(data))
    sensor = Sensor("lab")
    events = sensor_events(path, sensor, 64)
    assert sensor.stats.packets == sum(1 for _ in CaptureFile(path))
    assert all(e["event"]["dataset"] for e in events)



CHUNKED = {row["path"]: int(row["packets"]) for row in ROWS
           if row["path"].endswith(("gtp1_gn_normal_incl_fragmentation.pcap",
                                    "modbus__modbusSmall.pcap",
                                    "pcapng__testregistration.pcapng"))}


def read_whole(path: Path, read_size: int) -> tuple[list[Frame], bool]:
    with patch.object(capture_module, "READ_SIZE", read_size):
        capture = CaptureFile(path)
        return list(capture), capture.truncated


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(CHUNKED)), st.integers(1, 3000),
       st.one_of(st.just(1.0), st.floats(0.0, 1.0)))
def test_frames_do_not_depend_on_the_size_of_the_chunks_read(tmp_path_factory, source: str,
                                                           read_size: int, keep: float) -> None:
    """A file is read in chunks: records (pcap) and blocks (pcapng) cut by a chunk's end or
    larger than a chunk, and a file cut short anywhere, read as from one chunk."""
    data = (PCAPS / source).read_bytes()
    kept = data[:max(24, int(len(data) * keep))]
    path = tmp_path_factory.mktemp("chunks") / Path(source).name
    path.write_bytes(kept)
    frames, truncated = read_whole(path, read_size)
    assert (frames, truncated) == read_whole(path, len(data))
    if kept == data:
        assert len(frames) == CHUNKED[source] and not truncated
