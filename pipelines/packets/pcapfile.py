"""Writing frames as a classic pcap with nanosecond timestamps, in dpkt's format.

dpkt's :class:`dpkt.pcap.Writer` writes the file header and packs the record headers; the
records are packed here with the writer's own header packer from integer nanoseconds (its
``writepkts`` takes float seconds, which would lose the nanoseconds of a present-day time),
keep each frame's length on the wire, and go out in one write per batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import dpkt

from sensor.capture import Frame

SNAPLEN = 262_144
NS = 10**9


class PcapWriter:
    """Frames of one link type into ``fileobj``; the header is written at once."""

    def __init__(self, fileobj: BinaryIO, linktype: int) -> None:
        self.linktype = linktype
        self._file = fileobj
        writer = dpkt.pcap.Writer(fileobj, snaplen=SNAPLEN, linktype=linktype, nano=True)
        self._pack_header = writer._pack_hdr      # (seconds, nanoseconds, caplen, wire length)

    def write(self, frames: Iterable[Frame]) -> int:
        """Write ``frames`` (their link type must be the file's); returns the bytes written."""
        pack = self._pack_header
        chunks: list[bytes] = []
        for frame in frames:
            seconds, nanoseconds = divmod(frame.ts_ns, NS)
            size = len(frame.data)
            chunks += (pack(seconds, nanoseconds, size, max(size, frame.wire_len)), frame.data)
        data = b"".join(chunks)
        self._file.write(data)
        return len(data)
