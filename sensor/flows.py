"""Bidirectional flow metering over decoded columns.

Flows live in arrays (one slot per flow) indexed by the hash of their canonical key, and a
compiled loop updates them a whole block at a time. A flow's ``source`` is the side that sent the
first packet seen, and its MAC addresses are those of that packet's frame (none for other link
types and for tunnelled flows). Flows end on an idle or active timeout, shortly after a TCP
close, when the table is full (the least recently active flows are evicted, and counted), or at
the end of the input. Ended slots are handed back to the caller, which turns them into
``flow`` events and then releases them.

The index from hash to slot is an open-addressing table (linear probing) in two arrays, kept at
most half full. Two different keys with the same 64-bit hash would share a slot; with a million
concurrent flows the chance of that is about one in thirty million.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sensor.columnar import KEY_LEN, NO_VLAN, OK, Columns
from sensor.kernels import njit

IDLE, ACTIVE, TCP_CLOSE, END_OF_CAPTURE, EVICTED = 1, 2, 3, 4, 5
END_REASONS = {0: "", IDLE: "idle_timeout", ACTIVE: "active_timeout", TCP_CLOSE: "tcp_close",
               END_OF_CAPTURE: "end_of_capture", EVICTED: "evicted"}
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
TCP_FLAG_LETTERS = ((TCP_SYN, "S"), (TCP_ACK, "A"), (TCP_PSH, "P"), (TCP_FIN, "F"),
                    (TCP_RST, "R"), (TCP_URG, "U"))
# the letters of all 64 combinations: a TCP flow's event reads them instead of testing six bits
_FLAG_TEXT = tuple("".join(letter for bit, letter in TCP_FLAG_LETTERS if flags & bit)
                   for flags in range(64))
CLOSE_LINGER_NS = 5_000_000_000
EMPTY, DELETED = -1, -2
V4_MAPPED = bytes(10) + b"\xff\xff"


class FlowArrays:
    """The flow table's columns, one row per slot."""

    def __init__(self, capacity: int) -> None:
        self.key = np.zeros((capacity, KEY_LEN), np.uint8)
        self.hash = np.zeros(capacity, np.uint64)
        self.src_is_a = np.zeros(capacity, np.bool_)
        self.first_ns = np.zeros(capacity, np.int64)
        self.last_ns = np.zeros(capacity, np.int64)
        self.closed_ns = np.zeros(capacity, np.int64)
        self.first_frame = np.zeros(capacity, np.int64)
        self.packets = np.zeros((capacity, 2), np.int64)
        self.bytes = np.zeros((capacity, 2), np.int64)
        self.tcp_flags = np.zeros(capacity, np.uint8)
        self.fins = np.zeros(capacity, np.int32)
        self.teid = np.zeros((capacity, 2), np.uint32)
        self.qfi = np.full(capacity, 255, np.uint8)
        self.outer = np.zeros((capacity, 32), np.uint8)
        self.tunnel = np.zeros(capacity, np.bool_)
        self.mac = np.zeros((capacity, 12), np.uint8)
        self.has_mac = np.zeros(capacity, np.bool_)
        self.active = np.zeros(capacity, np.bool_)
        self.end_reason = np.zeros(capacity, np.uint8)

    def grown(self, capacity: int) -> FlowArrays:
        bigger = FlowArrays(capacity)
        for name, column in vars(self).items():
            getattr(bigger, name)[: len(column)] = column
        return bigger

    def columns(self) -> tuple[np.ndarray, ...]:
        return (self.key, self.hash, self.src_is_a, self.first_ns, self.last_ns, self.closed_ns,
                self.first_frame, self.packets, self.bytes, self.tcp_flags, self.fins, self.teid,
                self.qfi, self.outer, self.tunnel, self.mac, self.has_mac, self.active,
                self.end_reason)


@dataclass(slots=True)
class FlowRecord:
    """One flow, read out of the table for its event."""

    slot: int
    proto: int
    src: bytes          # 4 or 16 bytes
    sport: int
    dst: bytes
    dport: int
    vlan: int | None
    first_ns: int
    last_ns: int
    first_frame: int
    packets: tuple[int, int]
    bytes: tuple[int, int]
    tcp_flags: int
    end_reason: str
    teid: tuple[int, int] | None
    qfi: int | None
    outer: tuple[bytes, bytes] | None
    mac: tuple[str, str] | None     # source and destination, ECS notation (00-0E-8C-01-02-03)


def tcp_flag_letters(flags: int) -> str:
    """The TCP flags seen in a flow as letters, SYN first.

    >>> tcp_flag_letters(TCP_SYN | TCP_ACK | TCP_FIN)
    'SAF'
    """
    return _FLAG_TEXT[flags & 0x3F]


def address(raw: bytes) -> bytes:
    """4 bytes for an IPv4-mapped address, 16 otherwise."""
    return raw[12:] if raw[:12] == V4_MAPPED else raw


@lru_cache(maxsize=1 << 16)
def address_text(raw: bytes) -> str:
    """The text of a 4- or 16-byte address; remembered, since flow after flow names the same
    tunnel endpoints, subscribers and servers."""
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _rows(array: np.ndarray) -> list[bytes]:
    raw = array.tobytes()
    width = array.shape[1]
    return [raw[i:i + width] for i in range(0, len(raw), width)]


def _record(slot: int, key: bytes, src_is_a: bool, first_ns: int, last_ns: int,
            first_frame: int, packets: list[int], nbytes: list[int], tcp_flags: int,
            end_reason: int, tunnel: bool, teid: list[int], qfi: int,
            outer: bytes, has_mac: bool, mac: bytes) -> FlowRecord:
    a = (address(key[0:16]), (key[32] << 8) | key[33])
    b = (address(key[16:32]), (key[34] << 8) | key[35])
    (src, sport), (dst, dport) = (a, b) if src_is_a else (b, a)
    vlan = (key[38] << 8) | key[39]
    return FlowRecord(
        slot, key[36], src, sport, dst, dport, None if vlan == NO_VLAN else vlan, first_ns,
        last_ns, first_frame, (packets[0], packets[1]), (nbytes[0], nbytes[1]), tcp_flags,
        END_REASONS[end_reason], (teid[0], teid[1]) if tunnel else None,
        qfi if tunnel and qfi != 255 else None,
        (address(outer[:16]), address(outer[16:])) if tunnel else None,
        (mac_text(mac[:6]), mac_text(mac[6:])) if has_mac else None)


def mac_text(raw: bytes) -> str:
    """A MAC address in the ECS notation: upper-case hex pairs joined by hyphens.

    >>> mac_text(bytes([0x00, 0x0E, 0x8C, 0x01, 0x02, 0x03]))
    '00-0E-8C-01-02-03'
    """
    return raw.hex("-").upper()


class FlowTable:
    """All live flows, bounded in number."""

    def __init__(self, idle_timeout_s: float = 60.0, active_timeout_s: float = 1800.0,
                 max_flows: int = 1_000_000, capacity: int = 4096) -> None:
        self.idle_ns = int(idle_timeout_s * 1e9)
        self.active_ns = int(active_timeout_s * 1e9)
        self.max_flows = max_flows
        self.arrays = FlowArrays(capacity)
        self.index = HashIndex(capacity)
        self.free = np.arange(capacity - 1, -1, -1, dtype=np.int64)
        self.free_top = np.array([capacity], np.int64)
        self.created = 0
        self.evicted = 0

    def __len__(self) -> int:
        return int(self.index.live[0])

    def update(self, cols: Columns, ts_ns: np.ndarray, wire_len: np.ndarray,
               frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Count every decoded packet in its flow. Returns each row's slot (-1 for rows that
        are not in a flow), the slots of flows that ended on the way, and for each the row
        that ended it (a packet of the same key after a timeout; -1: evicted before the
        first row, to make room)."""
        evicted = self._make_room(len(ts_ns))
        slots = np.full(len(ts_ns), -1, np.int64)
        ended_now = np.zeros(len(ts_ns), np.int64)
        ended_rows = np.zeros(len(ts_ns), np.int64)
        index = self.index
        counts = _update(index.hashes, index.slots, index.live, self.free, self.free_top,
                         self.idle_ns, self.active_ns, cols.status, cols.hash, cols.key,
                         cols.a_is_src, cols.proto, cols.tcp_flags, cols.tunnel, cols.teid,
                         cols.qfi, cols.outer, cols.mac, cols.has_mac, ts_ns, wire_len, frames,
                         slots, ended_now, ended_rows, *self.arrays.columns())
        created, n_ended = counts
        self.created += created
        return (slots, np.concatenate([evicted, ended_now[:n_ended]]),
                np.concatenate([np.full(len(evicted), -1, np.int64), ended_rows[:n_ended]]))

    def expire(self, now_ns: int) -> np.ndarray:
        """End the flows that timed out by ``now_ns`` (packet time)."""
        a = self.arrays
        live = np.flatnonzero(a.active)
        idle = now_ns - a.last_ns[live] >= self.idle_ns
        closed = (a.closed_ns[live] > 0) & (now_ns - a.closed_ns[live] >= CLOSE_LINGER_NS)
        active = now_ns - a.first_ns[live] >= self.active_ns
        reason = np.where(closed, TCP_CLOSE, np.where(idle, IDLE, ACTIVE))
        done = closed | idle | active
        return self._end(live[done], reason[done])

    def flush(self) -> np.ndarray:
        """End every flow (end of input)."""
        live = np.flatnonzero(self.arrays.active)
        return self._end(live, np.full(len(live), END_OF_CAPTURE))

    def release(self, slots: np.ndarray) -> None:
        """Give the slots of ended flows back, once their events are out."""
        top = int(self.free_top[0])
        self.free[top:top + len(slots)] = slots
        self.free_top[0] = top + len(slots)

    def record(self, slot: int) -> FlowRecord:
        return self.records(np.array([slot], np.int64))[0]

    def records(self, slots: np.ndarray) -> list[FlowRecord]:
        """The flows in ``slots``, read out column by column."""
        a = self.arrays
        columns = zip(slots.tolist(), _rows(a.key[slots]), a.src_is_a[slots].tolist(),
                      a.first_ns[slots].tolist(), a.last_ns[slots].tolist(),
                      a.first_frame[slots].tolist(), a.packets[slots].tolist(),
                      a.bytes[slots].tolist(), a.tcp_flags[slots].tolist(),
                      a.end_reason[slots].tolist(), a.tunnel[slots].tolist(),
                      a.teid[slots].tolist(), a.qfi[slots].tolist(),
                      _rows(a.outer[slots]), a.has_mac[slots].tolist(),
                      _rows(a.mac[slots]), strict=True)
        return [_record(*row) for row in columns]

    def _make_room(self, incoming: int) -> np.ndarray:
        """Grow the arrays so ``incoming`` new flows fit, and evict the least recently active
        flows when the table would pass ``max_flows``."""
        excess = len(self) + incoming - self.max_flows
        ended = self._evict(excess) if excess > 0 else np.zeros(0, np.int64)
        if int(self.free_top[0]) < incoming + len(ended):
            self._grow(len(self.arrays.hash) + incoming + len(ended))
        elif self.index.crowded(incoming):
            self.index = HashIndex.of(self.arrays, len(self.arrays.hash))
        return ended

    def _evict(self, count: int) -> np.ndarray:
        live = np.flatnonzero(self.arrays.active)
        count = min(count, len(live))
        oldest = live[np.argpartition(self.arrays.last_ns[live], count - 1)[:count]]
        self.evicted += len(oldest)
        return self._end(oldest, np.full(len(oldest), EVICTED))

    def _grow(self, needed: int) -> None:
        old = len(self.arrays.hash)
        new = max(needed, old * 2)
        self.arrays = self.arrays.grown(new)
        self.index = HashIndex.of(self.arrays, new)
        top = int(self.free_top[0])
        fresh = np.arange(new - 1, old - 1, -1, dtype=np.int64)
        free = np.empty(new, np.int64)
        free[:len(fresh)] = fresh
        free[len(fresh):len(fresh) + top] = self.free[:top]
        self.free = free
        self.free_top[0] = top + len(fresh)

    def _end(self, slots: np.ndarray, reasons: np.ndarray) -> np.ndarray:
        """End flows together, returned in the order they began: slot numbers depend on when
        earlier slots were given back, which depends on how the input was cut into blocks."""
        a = self.arrays
        order = np.lexsort((a.first_frame[slots], a.first_ns[slots]))
        slots, reasons = slots[order], reasons[order]
        a.active[slots] = False
        a.end_reason[slots] = reasons
        _forget(self.index.hashes, self.index.slots, self.index.live, a.hash[slots])
        return slots.astype(np.int64)


class HashIndex:
    """Flow hash → slot, for up to ``capacity`` flows."""

    def __init__(self, capacity: int) -> None:
        size = 1 << (2 * capacity - 1).bit_length()
        self.hashes = np.zeros(size, np.uint64)
        self.slots = np.full(size, EMPTY, np.int64)
        self.live = np.zeros(2, np.int64)  # flows indexed; positions used (deleted included)

    def crowded(self, incoming: int) -> bool:
        """Would ``incoming`` more flows leave too few empty positions for short probes?"""
        return int(self.live[1]) + incoming > len(self.slots) // 2

    @classmethod
    def of(cls, arrays: FlowArrays, capacity: int) -> HashIndex:
        index = cls(capacity)
        live = np.flatnonzero(arrays.active)
        _insert_all(index.hashes, index.slots, index.live, arrays.hash[live], live)
        return index


@njit(cache=True, inline="always")
def _find(hashes, slots, h):
    """(position, slot) of ``h``; slot -1 and the first free position when absent."""
    mask = len(slots) - 1
    pos = np.int64(h & np.uint64(mask))
    free = -1
    while True:
        slot = slots[pos]
        if slot == EMPTY:
            return (pos if free < 0 else free), -1
        if slot == DELETED:
            if free < 0:
                free = pos
        elif hashes[pos] == h:
            return pos, slot
        pos = (pos + 1) & mask


@njit(cache=True, inline="always")
def _insert(hashes, slots, live, h, slot):
    pos, _ = _find(hashes, slots, h)
    live[0] += 1
    live[1] += slots[pos] == EMPTY
    hashes[pos] = h
    slots[pos] = slot


@njit(cache=True)
def _insert_all(hashes, slots, live, new_hashes, new_slots):
    for i in range(len(new_hashes)):
        _insert(hashes, slots, live, new_hashes[i], new_slots[i])


@njit(cache=True)
def _forget(hashes, slots, live, ended):
    for h in ended:
        pos, slot = _find(hashes, slots, h)
        if slot >= 0:
            slots[pos] = DELETED
            live[0] -= 1


@njit(cache=True)
def _update(index_hashes, index_slots, live, free, free_top, idle_ns, active_ns, status, hashes,
            keys, a_is_src, protos, flags, tunnels, teids, qfis, outers, macs, has_macs, ts_ns,
            wire_len, frames, slots, ended, ended_rows, key, hash_, src_is_a, first_ns, last_ns,
            closed_ns, first_frame, packets, nbytes, tcp_flags, fins, teid, qfi, outer, tunnel,
            mac, has_mac, active, end_reason):
    created = 0
    n_ended = 0
    for i in range(len(status)):
        if status[i] != OK:
            continue
        h = hashes[i]
        ts = ts_ns[i]
        pos, slot = _find(index_hashes, index_slots, h)
        if slot >= 0:   # one type for reason (pycc, building ahead of time, keeps literals apart)
            reason = np.uint8(0)
            if closed_ns[slot] > 0 and ts - closed_ns[slot] >= CLOSE_LINGER_NS:
                reason = np.uint8(TCP_CLOSE)
            elif ts - last_ns[slot] >= idle_ns:
                reason = np.uint8(IDLE)
            elif ts - first_ns[slot] >= active_ns:
                reason = np.uint8(ACTIVE)
            if reason:
                active[slot] = False
                end_reason[slot] = reason
                index_slots[pos] = DELETED
                live[0] -= 1
                ended[n_ended] = slot
                ended_rows[n_ended] = i
                n_ended += 1
                slot = -1
        if slot < 0:
            free_top[0] -= 1
            slot = free[free_top[0]]
            _insert(index_hashes, index_slots, live, h, slot)
            created += 1
            for k in range(KEY_LEN):    # element by element: a row view needs reference counts
                key[slot, k] = keys[i, k]
            hash_[slot] = h
            src_is_a[slot] = a_is_src[i]
            first_ns[slot] = last_ns[slot] = ts
            closed_ns[slot] = 0
            first_frame[slot] = frames[i]
            packets[slot] = 0
            nbytes[slot] = 0
            tcp_flags[slot] = 0
            fins[slot] = 0
            teid[slot] = 0
            qfi[slot] = 255
            tunnel[slot] = False
            has_mac[slot] = has_macs[i]
            for k in range(12):
                mac[slot, k] = macs[i, k]
            active[slot] = True
            end_reason[slot] = 0
        side = 0 if a_is_src[i] == src_is_a[slot] else 1
        packets[slot, side] += 1
        nbytes[slot, side] += wire_len[i]
        if ts > last_ns[slot]:
            last_ns[slot] = ts
        if protos[i] == 6:
            tcp_flags[slot] |= flags[i]
            if flags[i] & TCP_FIN:
                fins[slot] += 1
            if closed_ns[slot] == 0 and (flags[i] & TCP_RST or fins[slot] >= 2):
                closed_ns[slot] = ts
        if tunnels[i]:
            if not tunnel[slot]:
                tunnel[slot] = True
                sender, receiver = (16, 0) if side else (0, 16)   # from the flow's source
                for k in range(16):
                    outer[slot, k] = outers[i, sender + k]
                    outer[slot, 16 + k] = outers[i, receiver + k]
            if teid[slot, side] == 0:
                teid[slot, side] = teids[i]
            if qfis[i] != 255:
                qfi[slot] = qfis[i]
        slots[i] = slot
    return created, n_ended
