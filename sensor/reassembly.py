"""TCP payload in order, one direction of one flow at a time.

Segments that arrive early wait (bounded); retransmitted bytes are dropped. A hole is given up
when the peer acknowledges bytes beyond it (the receiver has them, the capture missed them: no
retransmission will come) or when the bound is hit; the stream then skips to the earliest waiting
segment and reports the gap, so an analyzer can resynchronise instead of stalling: a gap shows as
an empty chunk before the data after it. Every chunk keeps the number of the frame that carried
it, so a PDU is reported on its own frame even when it was held behind a hole.

>>> s = TcpStream()
>>> s.start(994)  # the SYN's sequence number
>>> s.add(1000, b"world", frame=7)
[]
>>> s.add(995, b"hello", frame=8)
[Chunk(data=b'hello', frame=8), Chunk(data=b'world', frame=8)]
"""

from __future__ import annotations

from typing import NamedTuple

MAX_PENDING_BYTES = 256 * 1024
SEQ_MOD = 1 << 32


class Chunk(NamedTuple):
    """Bytes delivered in order (``b""``: a gap) and the frame that made them deliverable."""

    data: bytes
    frame: int


def _after(a: int, b: int) -> int:
    """Signed distance from b to a in sequence space."""
    return (a - b + (1 << 31)) % SEQ_MOD - (1 << 31)


class TcpStream:
    """Orders the payload of one direction: ``add`` returns the chunks that the segment made
    deliverable, in order (so a PDU completes on the frame that filled the last hole)."""

    __slots__ = ("gaps", "next_seq", "pending", "pending_bytes")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, Chunk] = {}
        self.pending_bytes = 0
        self.gaps = 0

    def start(self, syn_seq: int) -> None:
        """The stream's first byte follows the SYN (only before any payload was seen)."""
        if self.next_seq is None:
            self.next_seq = (syn_seq + 1) % SEQ_MOD

    def add(self, seq: int, data: bytes, frame: int = 0) -> list[Chunk]:
        if not data:
            return []
        if self.next_seq is None:
            self.next_seq = seq
        offset = _after(seq, self.next_seq)
        if offset < 0:  # starts before what we have: keep only the new tail
            if -offset >= len(data):
                return []
            seq, data = self.next_seq, data[-offset:]
            offset = 0
        if offset > 0:
            self._hold(seq, Chunk(data, frame))
            return self._skip_gap(frame) if self.pending_bytes > MAX_PENDING_BYTES else []
        return self._deliver(Chunk(data, frame), frame)

    def acknowledged(self, ack: int, frame: int = 0) -> list[Chunk]:
        """The peer acknowledged up to ``ack`` (on ``frame``): bytes before it that never came
        are lost; what waited behind them comes out on the frames that carried it.

        >>> s = TcpStream()
        >>> s.start(0)
        >>> s.add(11, b"later", frame=3)
        []
        >>> s.acknowledged(16, frame=4)
        [Chunk(data=b'', frame=4), Chunk(data=b'later', frame=3)]
        """
        if self.next_seq is None:
            return []
        beyond = _after(ack, self.next_seq)
        if beyond <= 0 or (beyond == 1 and not self.pending):   # 1: the FIN's sequence number
            return []
        if self.pending:
            return self._skip_gap(frame)
        self.gaps += 1
        self.next_seq = ack
        return [Chunk(b"", frame)]

    def _hold(self, seq: int, chunk: Chunk) -> None:
        held = self.pending.get(seq)
        held_len = len(held.data) if held else 0
        if held_len < len(chunk.data):
            self.pending_bytes += len(chunk.data) - held_len
            self.pending[seq] = chunk

    def _deliver(self, chunk: Chunk, frame: int) -> list[Chunk]:
        """``chunk`` and whatever waited right behind it; what waited for the segment of
        ``frame`` to fill a hole completes on ``frame``, what waited behind a gap on its own."""
        assert self.next_seq is not None
        chunks = [chunk]
        self.next_seq = (self.next_seq + len(chunk.data)) % SEQ_MOD
        while self.pending:
            ready = self._take_ready(frame)
            if ready is None:
                break
            chunks.append(ready)
        return chunks

    def _take_ready(self, frame: int) -> Chunk | None:
        assert self.next_seq is not None
        for seq in list(self.pending):
            offset = _after(seq, self.next_seq)
            if offset > 0:
                continue
            held = self.pending.pop(seq)
            self.pending_bytes -= len(held.data)
            if -offset < len(held.data):
                tail = held.data[-offset:]
                self.next_seq = (self.next_seq + len(tail)) % SEQ_MOD
                return Chunk(tail, max(frame, held.frame))
        return None

    def _skip_gap(self, frame: int) -> list[Chunk]:
        """Give up on the missing bytes: continue from the earliest waiting segment, each held
        segment completing on its own frame."""
        assert self.next_seq is not None
        earliest = min(self.pending, key=lambda s: _after(s, self.next_seq or 0))
        self.gaps += 1
        self.next_seq = earliest
        held = self.pending.pop(earliest)
        self.pending_bytes -= len(held.data)
        return [Chunk(b"", frame), *self._deliver(held, 0)]
