"""IP fragment reassembly (IPv4 and IPv6), on the slow path.

Fragments wait per datagram (source, destination, protocol, identification) until every byte
from offset 0 to the end of the last fragment has arrived; then the transport segment comes out
whole and is counted once, on the frame that completed it (as Wireshark does). Waiting datagrams
are bounded in number and in age; one that is dropped is reported.

>>> r = Reassembler()
>>> r.add(Fragment(("a", "b", 17, 7), 8, False, b"world!!!"), ts_us=0)
>>> r.add(Fragment(("a", "b", 17, 7), 0, True, b"hello, w"), ts_us=1)
b'hello, wworld!!!'
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

MAX_DATAGRAMS = 4096
MAX_DATAGRAM_BYTES = 65_535 + 8
TIMEOUT_US = 30_000_000


@dataclass(frozen=True, slots=True)
class Fragment:
    key: tuple[str, str, int, int]   # source, destination, protocol, identification
    offset: int                      # in bytes
    more: bool                       # more fragments follow
    data: bytes


@dataclass(slots=True)
class _Datagram:
    first_us: int
    pieces: dict[int, bytes] = field(default_factory=dict)
    length: int | None = None        # known once the last fragment has arrived


class Reassembler:
    def __init__(self) -> None:
        self.pending: OrderedDict[tuple, _Datagram] = OrderedDict()
        self.dropped = 0

    def add(self, fragment: Fragment, ts_us: int) -> bytes | None:
        """The whole transport segment once ``fragment`` completes it, else None."""
        self._expire(ts_us)
        datagram = self.pending.get(fragment.key)
        if datagram is None:
            if len(self.pending) >= MAX_DATAGRAMS:
                self.pending.popitem(last=False)
                self.dropped += 1
            datagram = self.pending[fragment.key] = _Datagram(ts_us)
        end = fragment.offset + len(fragment.data)
        if end > MAX_DATAGRAM_BYTES:
            del self.pending[fragment.key]
            self.dropped += 1
            return None
        datagram.pieces[fragment.offset] = fragment.data
        if not fragment.more:
            datagram.length = end
        whole = _assemble(datagram)
        if whole is not None:
            del self.pending[fragment.key]
        return whole

    def _expire(self, now_us: int) -> None:
        while self.pending:
            key, oldest = next(iter(self.pending.items()))
            if now_us - oldest.first_us < TIMEOUT_US:
                return
            del self.pending[key]
            self.dropped += 1


def _assemble(datagram: _Datagram) -> bytes | None:
    if datagram.length is None:
        return None
    whole = bytearray(datagram.length)
    covered = 0
    for offset in sorted(datagram.pieces):
        if offset > covered:
            return None
        data = datagram.pieces[offset]
        whole[offset:offset + len(data)] = data[: datagram.length - offset]
        covered = max(covered, offset + len(data))
    return bytes(whole) if covered >= datagram.length else None
