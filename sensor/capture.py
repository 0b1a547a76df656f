"""Capture files: classic pcap (micro- and nanosecond, either byte order) and pcapng.

A capture is read in chunks (from a file, compressed or not, or a stream: :mod:`sensor.inputs`),
and its records or blocks indexed by compiled loops.
Frames come out either one at a time (:class:`Frame`) or as a columnar :class:`FrameBlock` for
the batch decoder. A file that is cut short is read up to the break and flagged ``truncated``;
a file that is not a capture at all raises :class:`CaptureError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensor.inputs import STDIN, FileInput, InputError, StreamInput, open_input
from sensor.kernels import njit

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000), b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
MAX_TS_NS = 2**63 - 1
MAX_TS_FLOAT = 2.0 ** 63
DAMAGED_LINKTYPE = 65535     # reserved by the registry of link types
MAX_RECORD = 256 * 1024 * 1024
READ_SIZE = 2 * 1024 * 1024   # a file is read in chunks of this size (see CaptureFile._read)
OTHER_BLOCK = -2    # _index_pcapng stopped at a block that is not a packet block
RECORD = np.dtype([("number", np.int64), ("ts_ns", np.int64), ("linktype", np.int32),
                   ("wire_len", np.int64), ("offset", np.int64), ("caplen", np.int64)])


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

    buf: bytes
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
    """Frames of one pcap or pcapng capture, in order: a file, plain or compressed (gzip, xz,
    bzip2), or a stream read once (``-`` for standard input, or a named pipe); see
    :mod:`sensor.inputs`.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"not a capture")
    >>> CaptureFile(f.name)
    Traceback (most recent call last):
    sensor.capture.CaptureError: ... is not a pcap or pcapng capture
    """

    def __init__(self, path: str | Path) -> None:
        self.path, self._where = Path(path), str(path)
        self.name = "stdin" if self._where == STDIN else self.path.name
        source = self._open()
        self.size = source.size          # bytes of input, when known (0 for a stream)
        self.stream = source.once        # standard input or a pipe: read once, then gone
        self.consumed = 0                # bytes of input read so far, for a progress bar
        self.truncated = False
        self.first_number = 0            # frames before this file's: its own are numbered on
        self.last_number = 0             # the number of the last frame read
        try:
            self._head = source.read_at(0, 24, 24)
        except OSError as exc:
            source.close()
            raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
        magic = self._head[:4]
        if magic not in PCAP_MAGICS and magic != PCAPNG_SHB:
            source.close()
            raise CaptureError(f"{path} is not a pcap or pcapng capture")
        # A stream cannot be opened again; a file is, compressed or not, for each pass (a
        # replay of many files does not hold them all open).
        self._kept: FileInput | StreamInput | None = source if self.stream else None
        if not self.stream:
            source.close()

    def blocks(self, size: int) -> Iterator[FrameBlock]:
        """The capture as blocks of at most ``size`` frames."""
        if self._head[:4] == PCAPNG_SHB:
            yield from self._read(_PcapngBlocks(), 0, size)
        elif len(self._head) < 24:
            self.truncated = True
        else:
            yield from self._read(_PcapRecords(self._head), 24, size)

    def __iter__(self) -> Iterator[Frame]:
        for block in self.blocks(4096):
            yield from block.frames()

    def _open(self) -> FileInput | StreamInput:
        try:
            return open_input(self._where)
        except InputError as exc:
            raise CaptureError(str(exc)) from exc
        except OSError as exc:
            raise CaptureError(f"{self.path}: {exc.strerror or exc}") from exc

    def _pass(self) -> FileInput | StreamInput:
        """The input for one pass over the capture."""
        if self._kept is not None:
            source, self._kept = self._kept, None
            return source
        if self.stream:
            raise CaptureError(f"{self.name} is a stream, read once")
        return self._open()

    def _read(self, reader: _PcapRecords | _PcapngBlocks, start: int, size: int
              ) -> Iterator[FrameBlock]:
        """The capture from ``start``, read a chunk at a time rather than mapped whole: the
        chunk the copy leaves in the CPU's cache is then walked by the index and the decoder,
        where the walk over a mapped file waited on memory at every record (index 0.13 s, now
        0.06 s over the million packets of the benchmark, the copy included). A record that a
        chunk cuts is read again at the start of the next one."""
        number = self.last_number = self.first_number
        source = self._pass()
        try:
            at, want, need = start, READ_SIZE, 0
            while True:
                chunk = source.read_at(at, want, max(need, 1))
                pos, need = 0, 0
                while pos < len(chunk) and not need:
                    records = np.zeros(size, dtype=RECORD)
                    count, pos, need = reader.index(chunk, pos, number, records)
                    number += count
                    self.last_number = number
                    if count:
                        self.consumed = source.consumed(at + pos)
                        yield FrameBlock(chunk, records[:count])
                at += pos
                self.consumed = source.consumed(at)
                if need < 0 or source.damaged or (source.ended and need):
                    self.truncated = True    # damaged, or cut short
                    return
                if source.ended:             # the end, between two records
                    return
                want = max(READ_SIZE, need)
        except OSError as exc:
            raise CaptureError(f"{self.path}: {exc.strerror or exc}") from exc
        finally:
            source.close()

    def batches(self, size: int) -> Iterator[list[Frame]]:
        batch: list[Frame] = []
        for frame in self:
            batch.append(frame)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


class _PcapRecords:
    """How to index the records of a pcap file: its header's byte order, clock and link."""

    def __init__(self, head: bytes) -> None:
        order, self.ns_per_tick = PCAP_MAGICS[head[:4]]
        self.big = order == ">"
        self.linktype = struct.unpack_from(order + "I", head, 20)[0] & 0x0FFFFFFF

    def index(self, chunk: bytes, pos: int, number: int, records: np.ndarray
              ) -> tuple[int, int, int]:
        """(records indexed, next position, bytes needed or -1): see :func:`_index_pcap`."""
        count, pos, need = _index_pcap(np.frombuffer(chunk, np.uint8), pos, self.big,
                                       self.ns_per_tick, number, records["number"],
                                       records["ts_ns"], records["wire_len"],
                                       records["offset"], records["caplen"])
        records["linktype"] = self.linktype
        return count, pos, need


@dataclass(slots=True)
class _Interface:
    linktype: int
    ns_per_tick: float


class _PcapngBlocks:
    """How to index the blocks of a pcapng file: packet blocks in a compiled loop; here, the
    section headers (byte order) and interface descriptions (link type, clock) that say how to
    read the packets after them, and any other block, passed over."""

    def __init__(self) -> None:
        self.order = "<"
        self.interfaces: list[_Interface] = []
        self._columns()

    def index(self, chunk: bytes, pos: int, number: int, records: np.ndarray
              ) -> tuple[int, int, int]:
        """(records indexed, next position, bytes needed or -1): see :func:`_index_pcapng`."""
        data, count = np.frombuffer(chunk, np.uint8), 0
        while True:
            found, pos, need = _index_pcapng(
                data, pos, self.order == ">", self.linktypes, self.ns_per_tick, number + count,
                *(records[name][count:] for name in RECORD.names))
            count += found
            if need != OTHER_BLOCK:
                return count, pos, need
            length, need = self._other_block(chunk, pos)
            if need:
                return count, pos, need
            pos += length

    def _other_block(self, chunk: bytes, pos: int) -> tuple[int, int]:
        """Read the block at ``pos``, not a packet block: (its length, 0), or (0, the bytes it
        needs to be whole in ``chunk``, or -1 when its length is damaged)."""
        if pos + 12 > len(chunk):
            return 0, 12
        block_type = struct.unpack_from(self.order + "I", chunk, pos)[0]
        order = self.order
        if block_type == 0x0A0D0D0A:
            order = "<" if chunk[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        length = struct.unpack_from(order + "I", chunk, pos + 4)[0]
        if length < 12 or length % 4:
            return 0, -1
        if pos + length > len(chunk):
            return 0, length
        if block_type == 0x0A0D0D0A:
            self.order, self.interfaces = order, []
            self._columns()
        elif block_type == 1:
            self.interfaces.append(_interface(chunk[pos + 8:pos + length - 4], order))
            self._columns()
        return length, 0

    def _columns(self) -> None:
        self.linktypes = np.array([i.linktype for i in self.interfaces], np.int64)
        self.ns_per_tick = np.array([i.ns_per_tick for i in self.interfaces], np.float64)


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


@njit(cache=True, nogil=True, inline="always")
def _u32(data: np.ndarray, pos: int, big: bool) -> int:
    if big:
        return (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]
    return data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16) | (data[pos + 3] << 24)


@njit(cache=True, nogil=True, inline="always")
def _u16(data: np.ndarray, pos: int, big: bool) -> int:
    return (data[pos] << 8) | data[pos + 1] if big else data[pos] | (data[pos + 1] << 8)


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


@njit(cache=True, nogil=True)
def _index_pcapng(data, pos, big, if_linktypes, if_ns_per_tick, number, numbers, ts_ns,
                  linktypes, wire_lens, offsets, caplens):
    """Index the packet blocks of ``data`` from ``pos`` into the columns until they are full, a
    block is not whole in ``data`` or a block is not a packet block. Returns (count, where the
    next block starts, what it needs): the bytes from its start that it needs to be whole when
    it is not, -1 when its length is damaged, OTHER_BLOCK when it is not a packet block, 0
    otherwise. A packet block that holds no readable packet (an interface not described, a
    length beyond its block) is passed over and not numbered."""
    end = len(data)
    count = 0
    while count < len(numbers) and pos < end:
        if pos + 12 > end:
            return count, pos, np.int64(12)
        block_type = _u32(data, pos, big)
        if block_type != 6 and block_type != 3 and block_type != 2:
            return count, pos, np.int64(OTHER_BLOCK)
        length = np.int64(_u32(data, pos + 4, big))
        if length < 12 or length % 4:
            return count, pos, np.int64(-1)
        if pos + length > end:
            return count, pos, length
        if _packet(data, pos + 8, pos + length - 4, block_type, big, if_linktypes,
                   if_ns_per_tick, count, ts_ns, linktypes, wire_lens, offsets, caplens):
            numbers[count] = number + count + 1
            count += 1
        pos += length
    return count, pos, np.int64(0)


@njit(cache=True, nogil=True, inline="always")
def _packet(data, start, stop, block_type, big, if_linktypes, if_ns_per_tick, i, ts_ns,
            linktypes, wire_lens, offsets, caplens):
    """Row ``i`` of the columns from the packet block whose body is ``data[start:stop]``;
    False when it holds no packet that can be read."""
    if block_type == 3:     # simple packet block: the first interface, no timestamp
        if len(if_linktypes) == 0 or stop - start < 4:
            return False
        wire_len = _u32(data, start, big)
        ts_ns[i], linktypes[i], wire_lens[i] = 0, if_linktypes[0], wire_len
        offsets[i], caplens[i] = start + 4, min(wire_len, stop - start - 4)
        return True
    if stop - start < 20:
        return False
    if_id = _u32(data, start, big) if block_type == 6 else _u16(data, start, big)  # 2: obsolete
    caplen = _u32(data, start + 12, big)
    if if_id >= len(if_linktypes) or start + 20 + caplen > stop:
        return False
    ticks = (np.uint64(_u32(data, start + 4, big)) << np.uint64(32)) | np.uint64(
        _u32(data, start + 8, big))
    ns_per_tick = if_ns_per_tick[if_id]
    # a damaged timestamp may lie beyond what nanoseconds since 1970 can hold (the year 2262)
    if ns_per_tick == 1000.0:
        ts = (MAX_TS_NS if ticks > np.uint64(MAX_TS_NS // 1000)
              else np.int64(ticks) * np.int64(1000))
    else:
        exact = np.float64(ticks) * ns_per_tick
        ts = MAX_TS_NS if exact >= MAX_TS_FLOAT else np.int64(exact)
    ts_ns[i], linktypes[i], wire_lens[i] = ts, if_linktypes[if_id], _u32(data, start + 16, big)
    offsets[i], caplens[i] = start + 20, caplen
    return True
