"""TCP payload in order, one direction of one flow at a time.

Segments that arrive early wait (bounded); retransmitted bytes are dropped. A hole is given up
when the peer acknowledges bytes beyond it (the receiver has them, the capture missed them: no
retransmission will come) or when the bound is hit; the stream then skips to the earliest waiting
segment and reports the gap, so an analyzer can resynchronise instead of stalling: a gap shows as
an empty chunk before the data after it.

>>> s = TcpStream()
>>> s.start(994)  # the SYN's sequence number
>>> s.add(1000, b"world")
[]
>>> s.add(995, b"hello")
[b'hello', b'world']
"""

from __future__ import annotations

MAX_PENDING_BYTES = 256 * 1024
SEQ_MOD = 1 << 32


def _after(a: int, b: int) -> int:
    """Signed distance from b to a in sequence space."""
    return (a - b + (1 << 31)) % SEQ_MOD - (1 << 31)


class TcpStream:
    """Orders the payload of one direction: ``add`` returns the chunks that the segment made
    deliverable, in order (so a PDU completes on the frame that filled the last hole)."""

    __slots__ = ("gaps", "next_seq", "pending", "pending_bytes")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.gaps = 0

    def start(self, syn_seq: int) -> None:
        """The stream's first byte follows the SYN (only before any payload was seen)."""
        if self.next_seq is None:
            self.next_seq = (syn_seq + 1) % SEQ_MOD

    def add(self, seq: int, data: bytes) -> list[bytes]:
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
            self._hold(seq, data)
            return self._skip_gap() if self.pending_bytes > MAX_PENDING_BYTES else []
        return self._deliver(data)

    def acknowledged(self, ack: int) -> list[bytes]:
        """The peer acknowledged up to ``ack``: bytes before it that never came are lost.

        >>> s = TcpStream()
        >>> s.start(0)
        >>> s.add(11, b"later")
        []
        >>> s.acknowledged(16)
        [b'', b'later']
        """
        if self.next_seq is None:
            return []
        beyond = _after(ack, self.next_seq)
        if beyond <= 0 or (beyond == 1 and not self.pending):   # 1: the FIN's sequence number
            return []
        if self.pending:
            return self._skip_gap()
        self.gaps += 1
        self.next_seq = ack
        return [b""]

    def _hold(self, seq: int, data: bytes) -> None:
        held = self.pending.get(seq, b"")
        if len(held) < len(data):
            self.pending_bytes += len(data) - len(held)
            self.pending[seq] = data

    def _deliver(self, data: bytes) -> list[bytes]:
        assert self.next_seq is not None
        chunks = [data]
        self.next_seq = (self.next_seq + len(data)) % SEQ_MOD
        while self.pending:
            ready = self._take_ready()
            if ready is None:
                break
            chunks.append(ready)
        return chunks

    def _take_ready(self) -> bytes | None:
        assert self.next_seq is not None
        for seq in list(self.pending):
            offset = _after(seq, self.next_seq)
            if offset > 0:
                continue
            data = self.pending.pop(seq)
            self.pending_bytes -= len(data)
            if -offset < len(data):
                tail = data[-offset:]
                self.next_seq = (self.next_seq + len(tail)) % SEQ_MOD
                return tail
        return None

    def _skip_gap(self) -> list[bytes]:
        """Give up on the missing bytes: continue from the earliest waiting segment."""
        assert self.next_seq is not None
        earliest = min(self.pending, key=lambda s: _after(s, self.next_seq or 0))
        self.gaps += 1
        self.next_seq = earliest
        data = self.pending.pop(earliest)
        self.pending_bytes -= len(data)
        return [b"", *self._deliver(data)]
