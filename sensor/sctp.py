"""SCTP DATA chunks: the user messages of an association, with their payload protocol ids.

A packet may bundle several chunks; a message may be split over several DATA chunks (B/E flags)
of one stream. Split messages wait per stream, bounded; one that grows past the bound is
dropped and reported.

>>> chunk = bytes.fromhex("0003 0014 00000001 0000 0000 0000003c") + b"ngap"
>>> [(m.stream, m.ppid, m.data) for m in SctpMessages().add(chunk)]
[(0, 60, b'ngap')]
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DATA = 0
FLAG_END, FLAG_BEGIN = 0x01, 0x02
MAX_MESSAGE = 256 * 1024
DATA_HEADER = struct.Struct("!BBHIHHI")


@dataclass(frozen=True, slots=True)
class SctpMessage:
    stream: int
    ppid: int
    data: bytes


class SctpMessages:
    """Turns the chunks of one direction into whole user messages."""

    def __init__(self) -> None:
        self.partial: dict[int, bytearray] = {}
        self.dropped = 0

    def add(self, chunks: bytes) -> list[SctpMessage]:
        """The messages completed by one packet's chunks (SCTP payload after the header)."""
        messages = []
        pos = 0
        while pos + 4 <= len(chunks):
            kind, flags, length = struct.unpack_from("!BBH", chunks, pos)
            if length < 4 or pos + length > len(chunks):
                break
            if kind == DATA and length >= DATA_HEADER.size:
                message = self._data(chunks[pos:pos + length], flags)
                if message is not None:
                    messages.append(message)
            pos += length + (-length % 4)
        return messages

    def _data(self, chunk: bytes, flags: int) -> SctpMessage | None:
        _, _, length, _tsn, stream, _ssn, ppid = DATA_HEADER.unpack_from(chunk)
        data = chunk[DATA_HEADER.size:length]
        if flags & FLAG_BEGIN and flags & FLAG_END:
            return SctpMessage(stream, ppid, data)
        if flags & FLAG_BEGIN:
            self.partial[stream] = bytearray(data)
            return None
        partial = self.partial.get(stream)
        if partial is None:
            return None
        partial += data
        if len(partial) > MAX_MESSAGE:
            del self.partial[stream]
            self.dropped += 1
            return None
        if flags & FLAG_END:
            del self.partial[stream]
            return SctpMessage(stream, ppid, bytes(partial))
        return None
