"""Captures read from compressed files and from streams: standard input and pipes."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sensor.capture as capture_module
from sensor.capture import CaptureError, CaptureFile, Frame
from tests.utils.pcaps import PCAPS

GTP_FRAGMENTS = PCAPS / ("zeek__zeek/testing__btest__Traces__tunnels__gtp__"
                         "gtp1_gn_normal_incl_fragmentation.pcap")
SOURCES = [PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap",
           PCAPS / "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng"]
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress, ".xz": lzma.compress, ".bz2": bz2.compress}


def read(path: Path | str) -> tuple[list[Frame], bool]:
    capture = CaptureFile(path)
    return list(capture), capture.truncated


@contextmanager
def pipe_of(data: bytes) -> Iterator[str]:
    """A real pipe that a thread fills with ``data``; its reading end as a path."""
    reading, writing = os.pipe()

    def fill() -> None:
        with suppress(BrokenPipeError), open(writing, "wb") as out:
            out.write(data)
    filler = threading.Thread(target=fill)
    filler.start()
    try:
        yield f"/dev/fd/{reading}"
    finally:
        os.close(reading)
        filler.join()


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.suffix)
def test_a_compressed_capture_reads_as_the_capture(source: Path, suffix: str,
                                                   tmp_path: Path) -> None:
    packed = tmp_path / (source.name + suffix)
    packed.write_bytes(COMPRESSORS[suffix](source.read_bytes()))

    capture = CaptureFile(packed)
    frames = list(capture)

    assert (frames, capture.truncated) == read(source)
    assert not capture.stream and capture.size == packed.stat().st_size
    assert capture.consumed == capture.size            # the progress bar reaches its end
    assert list(capture) == frames                     # a file is read again, for exports


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SOURCES), st.sampled_from(sorted(COMPRESSORS)), st.floats(0.0, 1.0),
       st.integers(1, 5000))
def test_a_cut_compressed_capture_is_read_up_to_the_break(tmp_path_factory, source: Path,
                                                          suffix: str, keep: float,
                                                          read_size: int) -> None:
    """A compressed file cut anywhere, read in chunks of any size: the frames before the cut,
    flagged truncated, and no exception."""
    whole, _ = read(source)
    packed = COMPRESSORS[suffix](source.read_bytes())
    cut = packed[:int(len(packed) * keep)]
    path = tmp_path_factory.mktemp("cut") / (source.name + suffix)
    path.write_bytes(cut)
    with patch.object(capture_module, "READ_SIZE", read_size):
        try:
            frames, truncated = read(path)
        except CaptureError as exc:   # cut inside the capture's own header
            assert "not a pcap or pcapng capture" in str(exc)
            return
    assert frames == whole[:len(frames)]
    assert truncated is (cut != packed)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([*SOURCES, GTP_FRAGMENTS]), st.integers(1, 3000),
       st.sampled_from(["", *sorted(COMPRESSORS)]))
def test_a_pipe_reads_as_the_file_whatever_the_chunk_size(source: Path, read_size: int,
                                                          suffix: str) -> None:
    """Through a pipe, compressed or not, records cut by a chunk's end are kept for the next
    chunk."""
    data = COMPRESSORS[suffix](source.read_bytes()) if suffix else source.read_bytes()
    with patch.object(capture_module, "READ_SIZE", read_size), pipe_of(data) as path:
        capture = CaptureFile(path)
        frames = list(capture)
        assert capture.stream
        with pytest.raises(CaptureError, match="read once"):
            list(capture)
    assert (frames, capture.truncated) == read(source)


def test_a_pipe_cut_in_a_packet_is_flagged_truncated() -> None:
    data = SOURCES[0].read_bytes()
    with pipe_of(data[:len(data) // 2]) as path:
        frames, truncated = read(path)
    assert truncated and 0 < len(frames) < len(read(SOURCES[0])[0])


def test_zstd_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "capture.pcap.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(40))
    with pytest.raises(CaptureError, match="zstd-compressed; decompress it first"):
        CaptureFile(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_replay_reads_standard_input(tmp_path: Path, suffix: str) -> None:
    """``liaowang replay -``, compressed or not: the events of the file, named after standard
    input, with no file for the console to export packets from."""
    source = SOURCES[0]
    sent = tmp_path / f"sent{suffix}"
    sent.write_bytes(COMPRESSORS[suffix](source.read_bytes()) if suffix else source.read_bytes())
    liaowang = str(Path(sys.executable).with_name("liaowang"))

    def replay(arguments: list[str], **options: object) -> list[str]:
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.jsonl"
        subprocess.run([liaowang, "replay", *arguments, "--jsonl", str(out)], check=True,
                       capture_output=True, **options)
        return out.read_text().splitlines()

    with sent.open("rb") as stdin:
        piped = replay(["-"], stdin=stdin)
    from_file = replay([str(source)])
    assert len(piped) == len(from_file) > 20
    assert all('"log":' not in line for line in piped)
    named = f'"file":"{source.name}"'
    path = f',"log":{{"file":{{"path":"{source.resolve()}"}}}}'
    assert [line.replace(named, '"file":"stdin"').replace(path, "") for line in from_file] \
        == piped


def test_packets_through_a_pipe_come_out_as_they_arrive() -> None:
    """``tcpdump -w - | liaowang replay -``: the frames of what the pipe holds are read
    before the writer sends more, not held back for a full chunk."""
    data = SOURCES[0].read_bytes()
    first_part = 24 + 16 + int.from_bytes(data[32:36], "little")   # header and one record
    first_read = threading.Event()
    waited: list[bool] = []
    reading, writing = os.pipe()

    def write() -> None:
        with open(writing, "wb", buffering=0) as out:
            out.write(data[:first_part])
            waited.append(first_read.wait(timeout=10))   # False: the reader waited for more
            out.write(data[first_part:])
    writer = threading.Thread(target=write)
    writer.start()
    try:
        frames = iter(CaptureFile(f"/dev/fd/{reading}"))
        first = next(frames)
        first_read.set()
        rest = list(frames)
    finally:
        first_read.set()
        writer.join()
        os.close(reading)
    assert waited == [True]
    assert [first, *rest] == read(SOURCES[0])[0]
