"""Capture files: classic pcap (micro- and nanosecond, either byte order) and pcapng.

A pcap file is read in chunks, a pcapng file mapped whole; both are indexed record by record.
Frames come out either one at a time (:class:`Frame`) or as a columnar :class:`FrameBlock` for
the batch decoder. A file that is cut short is read up to the break and flagged ``truncated``;
a file that is not a capture at all raises :class:`CaptureError`.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from sensor.kernels import njit

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000), b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
MAX_TS_NS = 2**63 - 1
DAMAGED_LINKTYPE = 65535     # reserved by the registry of link types
MAX_RECORD = 256 * 1024 * 1024
READ_SIZE = 2 * 1024 * 1024   # a pcap file is read in chunks of this size (see _pcap_blocks)
RECORD = np.dtype([("number", np.int64), ("ts_ns", np.int64), ("linktype", np.int32),
                   ("wire_len", np.int64), ("offset", np.int64), ("caplen", np.int64)])
Record = tuple[int, int, int, int, int, int]


class CaptureError(Exception):
    """The input is not a readable capture."""


@dataclass(slots=True)
class Frame:
    number: int      # 1-based, as Wireshark numbers frames
    ts_ns: int       # nanoseconds since the epoch
    linktype: int
    wire_len: int    # length on the wire (may exceed len(data) when the snap length cut it)
    data: bytes


@dataclass(slots=True)
class FrameBlock:
    """Frames as columns over one buffer: frame ``i`` is ``buf[offset[i]:offset[i]+caplen[i]]``."""

    buf: bytes | mmap.mmap
    records: np.ndarray  # of RECORD

    def __len__(self) -> int:
        return len(self.records)

    def frame(self, i: int) -> Frame:
        number, ts_ns, linktype, wire_len, offset, caplen = self.records[i].tolist()
        return Frame(number, ts_ns, linktype, wire_len, self.buf[offset:offset + caplen])

    def frames(self) -> list[Frame]:
        return [self.frame(i) for i in range(len(self))]

    @classmethod
    def from_frames(cls, frames: list[Frame]) -> FrameBlock:
        records = np.zeros(len(frames), dtype=RECORD)
        if frames:
            sizes = np.array([len(f.data) for f in frames], dtype=np.int64)
            records["offset"][1:] = np.cumsum(sizes)[:-1]
            records["caplen"] = sizes
            records["number"] = [f.number for f in frames]
            records["ts_ns"] = [f.ts_ns for f in frames]
            records["linktype"] = [f.linktype for f in frames]
            records["wire_len"] = [f.wire_len for f in frames]
        return cls(b"".join(f.data for f in frames), records)


class CaptureFile:
    """Frames of one pcap or pcapng file, in order.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"not a capture")
    >>> CaptureFile(f.name)
    Traceback (most recent call last):
    sensor.capture.CaptureError: ... is not a pcap or pcapng capture
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with self.path.open("rb") as handle:
                self._head = handle.read(24)
                self.size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
        magic = self._head[:4]
        if magic not in PCAP_MAGICS and magic != PCAPNG_SHB:
            raise CaptureError(f"{path} is not a pcap or pcapng capture")
        self.truncated = False

    def blocks(self, size: int) -> Iterator[FrameBlock]:
        """The file as blocks of at most ``size`` frames."""
        try:
            if self._head[:4] in PCAP_MAGICS:
                yield from self._pcap_blocks(size)
                return
            buf = _map(self.path)
        except OSError as exc:
            raise CaptureError(f"{self.path}: {exc.strerror or exc}") from exc
        records = _pcapng_records(buf, self)
        while len(block := np.fromiter(islice(records, size), dtype=RECORD)):
            yield FrameBlock(buf, block)

    def __iter__(self) -> Iterator[Frame]:
        for block in self.blocks(4096):
            yield from block.frames()

    def _pcap_blocks(self, size: int) -> Iterator[FrameBlock]:
        """A pcap file is read a chunk at a time rather than mapped whole: the chunk the copy
        leaves in the CPU's cache is then walked by the index and the decoder, where the walk
        over a mapped file waited on memory at every record (index 0.13 s, now 0.06 s over
        the million packets of the benchmark, the copy included). A record that a chunk cuts
        is read again at the start of the next one."""
        order, ns_per_tick = PCAP_MAGICS[self._head[:4]]
        if len(self._head) < 24:
            self.truncated = True
            return
        linktype = struct.unpack_from(order + "I", self._head, 20)[0] & 0x0FFFFFFF
        number, at_file, want = 0, 24, READ_SIZE
        with self.path.open("rb", buffering=0) as handle:
            while chunk := os.pread(handle.fileno(), want, at_file):
                data = np.frombuffer(chunk, dtype=np.uint8)
                pos, need = 0, 0
                while pos < len(data):
                    records = np.zeros(size, dtype=RECORD)
                    count, pos, need = _index_pcap(data, pos, order == ">", ns_per_tick,
                                                   number, records["number"],
                                                   records["ts_ns"], records["wire_len"],
                                                   records["offset"], records["caplen"])
                    records["linktype"] = linktype
                    number += count
                    if count:
                        yield FrameBlock(chunk, records[:count])
                    if need:
                        break
                at_file += pos
                if need < 0 or (need and len(chunk) < want):   # damaged, or cut at the end
                    self.truncated = True
                    return
                want = max(READ_SIZE, need)

    def batches(self, size: int) -> Iterator[list[Frame]]:
        batch: list[Frame] = []
        for frame in self:
            batch.append(frame)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def _map(path: Path) -> bytes | mmap.mmap:
    """The file's bytes, mapped into memory rather than copied when it is not empty."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


@njit(cache=True, nogil=True, inline="always")
def _u32(data: np.ndarray, pos: int, big: bool) -> int:
    if big:
        return (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]
    return data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16) | (data[pos + 3] << 24)


@njit(cache=True, nogil=True)
def _index_pcap(data, pos, big, ns_per_tick, number, numbers, ts_ns, wire_lens, offsets,
                caplens):
    """Index the pcap records of ``data`` from ``pos`` into the columns until they are full or
    a record is not whole in ``data``. Returns (count, where the next record starts, what it
    needs): the bytes from its start that it needs to be whole when it is not, -1 when its
    length is damaged, 0 otherwise."""
    end = len(data)
    count = 0
    while count < len(numbers) and pos < end:
        if pos + 16 > end:
            return count, pos, np.int64(16)
        caplen = np.int64(_u32(data, pos + 8, big))
        if caplen > MAX_RECORD:
            return count, pos, np.int64(-1)
        if pos + 16 + caplen > end:
            return count, pos, 16 + caplen
        numbers[count] = number + count + 1
        ts_ns[count] = (np.int64(_u32(data, pos, big)) * 1_000_000_000
                        + np.int64(_u32(data, pos + 4, big)) * ns_per_tick)
        wire_lens[count] = _u32(data, pos + 12, big)
        offsets[count] = pos + 16
        caplens[count] = caplen
        pos += 16 + caplen
        count += 1
    return count, pos, np.int64(0)


@dataclass(slots=True)
class _Interface:
    linktype: int
    ns_per_tick: float


def _pcapng_records(buf: bytes, owner: CaptureFile) -> Iterator[Record]:
    pos, end, number = 0, len(buf), 0
    order = "<"
    interfaces: list[_Interface] = []
    while pos + 12 <= end:
        block_type = struct.unpack_from(order + "I", buf, pos)[0]
        if block_type == 0x0A0D0D0A:
            order = "<" if buf[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        length = struct.unpack_from(order + "I", buf, pos + 4)[0]
        if length < 12 or length % 4 or pos + length > end:
            owner.truncated = True
            return
        if block_type == 1:
            interfaces.append(_interface(buf[pos + 8:pos + length - 4], order))
        elif block_type in (6, 3, 2):
            record = _packet_block(block_type, buf, pos + 8, pos + length - 4, order,
                                   interfaces, number + 1)
            if record is not None:
                number += 1
                yield record
        pos += length
    if pos != end:
        owner.truncated = True


def _interface(body: bytes, order: str) -> _Interface:
    if len(body) < 8:   # damaged: its packets still count, as of a link type nobody uses
        return _Interface(DAMAGED_LINKTYPE, 1_000.0)
    linktype = struct.unpack_from(order + "H", body, 0)[0]
    ns_per_tick = 1_000.0
    for code, value in _options(body[8:], order):
        if code == 9 and value:
            resolution = value[0]
            exponent = resolution & 0x7F
            ticks_per_s = 2 ** exponent if resolution & 0x80 else 10 ** exponent
            ns_per_tick = 1e9 / ticks_per_s
    return _Interface(linktype, ns_per_tick)


def _options(buf: bytes, order: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(buf):
        code, length = struct.unpack_from(order + "HH", buf, pos)
        if code == 0:
            return
        yield code, buf[pos + 4:pos + 4 + length]
        pos += 4 + length + (-length % 4)


def _packet_block(block_type: int, buf: bytes, start: int, end: int, order: str,
                  interfaces: list[_Interface], number: int) -> Record | None:
    if block_type == 3:  # simple packet block: first interface, no timestamp
        if not interfaces or end - start < 4:
            return None
        wire_len = struct.unpack_from(order + "I", buf, start)[0]
        caplen = min(wire_len, end - start - 4)
        return number, 0, interfaces[0].linktype, wire_len, start + 4, caplen
    if end - start < 20:
        return None
    layout = "IIIII" if block_type == 6 else "HxxIIII"  # 2: the obsolete packet block
    if_id, ts_high, ts_low, caplen, wire_len = struct.unpack_from(order + layout, buf, start)
    if if_id >= len(interfaces) or start + 20 + caplen > end:
        return None
    iface = interfaces[if_id]
    ticks = (ts_high << 32) | ts_low
    ts_ns = ticks * 1000 if iface.ns_per_tick == 1_000.0 else int(ticks * iface.ns_per_tick)
    # a damaged timestamp may lie beyond what nanoseconds since 1970 can hold (the year 2262)
    return number, min(ts_ns, MAX_TS_NS), iface.linktype, wire_len, start + 20, caplen
