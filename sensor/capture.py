"""Capture files: classic pcap (micro- and nanosecond, either byte order) and pcapng.

Frames come out in batches of :class:`Frame`. A file that is cut short is read up to the break
and flagged ``truncated``; a file that is not a capture at all raises :class:`CaptureError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000), b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
MAX_RECORD = 256 * 1024 * 1024


class CaptureError(Exception):
    """The input is not a readable capture."""


@dataclass(slots=True)
class Frame:
    number: int      # 1-based, as Wireshark numbers frames
    ts_ns: int       # nanoseconds since the epoch
    linktype: int
    wire_len: int    # length on the wire (may exceed len(data) when the snap length cut it)
    data: bytes


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
            self._buf = self.path.read_bytes()
        except OSError as exc:
            raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
        magic = self._buf[:4]
        if magic not in PCAP_MAGICS and magic != PCAPNG_SHB:
            raise CaptureError(f"{path} is not a pcap or pcapng capture")
        self.truncated = False
        self.frames_read = 0
        self.size = len(self._buf)

    def __iter__(self) -> Iterator[Frame]:
        reader = _pcap_frames if self._buf[:4] in PCAP_MAGICS else _pcapng_frames
        for frame in reader(self._buf, self):
            self.frames_read = frame.number
            yield frame

    def batches(self, size: int) -> Iterator[list[Frame]]:
        batch: list[Frame] = []
        for frame in self:
            batch.append(frame)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def _pcap_frames(buf: bytes, owner: CaptureFile) -> Iterator[Frame]:
    order, ns_per_tick = PCAP_MAGICS[buf[:4]]
    if len(buf) < 24:
        owner.truncated = True
        return
    linktype = struct.unpack_from(order + "I", buf, 20)[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    pos, number, end = 24, 0, len(buf)
    while pos < end:
        if pos + 16 > end:
            owner.truncated = True
            return
        sec, frac, caplen, wire_len = record.unpack_from(buf, pos)
        pos += 16
        if caplen > MAX_RECORD or pos + caplen > end:
            owner.truncated = True
            return
        number += 1
        yield Frame(number, sec * 1_000_000_000 + frac * ns_per_tick, linktype, wire_len,
                    buf[pos:pos + caplen])
        pos += caplen


@dataclass(slots=True)
class _Interface:
    linktype: int
    ns_per_tick: float


def _pcapng_frames(buf: bytes, owner: CaptureFile) -> Iterator[Frame]:
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
        body = buf[pos + 8:pos + length - 4]
        if block_type == 1:
            interfaces.append(_interface(body, order))
        elif block_type in (6, 3, 2):
            frame = _packet_block(block_type, body, order, interfaces, number + 1)
            if frame is not None:
                number += 1
                yield frame
        pos += length
    if pos != end:
        owner.truncated = True


def _interface(body: bytes, order: str) -> _Interface:
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


def _packet_block(block_type: int, body: bytes, order: str, interfaces: list[_Interface],
                  number: int) -> Frame | None:
    if block_type == 3:  # simple packet block: first interface, no timestamp
        if not interfaces or len(body) < 4:
            return None
        wire_len = struct.unpack_from(order + "I", body, 0)[0]
        return Frame(number, 0, interfaces[0].linktype, wire_len, body[4:4 + wire_len])
    if len(body) < 20:
        return None
    layout = "IIIII" if block_type == 6 else "HxxIIII"  # 2: the obsolete packet block
    if_id, ts_high, ts_low, caplen, wire_len = struct.unpack_from(order + layout, body, 0)
    if if_id >= len(interfaces):
        return None
    iface = interfaces[if_id]
    ticks = (ts_high << 32) | ts_low
    ts_ns = ticks * 1000 if iface.ns_per_tick == 1_000.0 else int(ticks * iface.ns_per_tick)
    return Frame(number, ts_ns, iface.linktype, wire_len, body[20:20 + caplen])
