"""Batch decoding: the headers of a whole block of frames, decoded into columns.

One compiled loop (numba) walks each frame's headers once: link layer (Ethernet with 802.1Q/QinQ,
Linux SLL and SLL2, BSD loopback, raw IP), IPv4 and IPv6 (with hop-by-hop, routing and
destination options headers), TCP, UDP, SCTP and ICMP, and GTP-U G-PDUs (v1, with extension
headers, the PDU Session Container's QFI, and the inner IPv4/IPv6 packet). What it cannot decode
with certainty (fragments, odd encapsulation, truncated or bad headers, unknown link types) it
leaves to the per-packet slow path with status ``SLOW``.

Every decoded packet gets its flow key: both endpoints in canonical order (address as 16 bytes,
IPv4 mapped into IPv6, then port), the IP protocol and the VLAN id, and a 64-bit hash of it.
Ethernet frames keep their source and destination MAC addresses, except G-PDUs: those MACs are
the outer endpoints', not the inner packet's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensor.capture import RECORD
from sensor.kernels import njit

OK, NOT_IP, SLOW, MALFORMED, FRAGMENT = 0, 1, 2, 3, 4  # FRAGMENT: held for reassembly
KEY_LEN = 40        # a[16] b[16] a_port[2] b_port[2] proto[1] 0[1] vlan[2]
NO_VLAN = 0xFFFF
GTPU_PORT = 2152
LINKTYPE_RAW = 101
FNV_OFFSET, FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
MIX_PRIME = np.uint64(0xFF51AFD7ED558CCD)


LINK_COLUMNS = frozenset({"mac", "has_mac"})


@dataclass(slots=True)
class Columns:
    """What the decoder found, one row per frame."""

    status: np.ndarray      # uint8: OK, NOT_IP, SLOW, MALFORMED, FRAGMENT
    proto: np.ndarray       # uint8: IP protocol of the (inner) packet
    sport: np.ndarray       # uint16 (ICMP: type)
    dport: np.ndarray       # uint16 (ICMP: code)
    tcp_flags: np.ndarray   # uint8
    seq: np.ndarray         # uint32
    ack: np.ndarray         # uint32: TCP acknowledgment number
    pay_off: np.ndarray     # int64: offset of the transport payload in the buffer
    pay_len: np.ndarray     # int64
    key: np.ndarray         # uint8 [n, KEY_LEN]
    hash: np.ndarray        # uint64
    a_is_src: np.ndarray    # bool: the packet's sender is endpoint A of the key
    teid: np.ndarray        # uint32: GTP-U tunnel id (tunnelled packets)
    qfi: np.ndarray         # uint8: QoS flow id from the PDU Session Container, 255 none
    tunnel: np.ndarray      # bool
    outer: np.ndarray       # uint8 [n, 32]: outer source and destination address
    mac: np.ndarray         # uint8 [n, 12]: Ethernet source and destination address
    has_mac: np.ndarray     # bool: ``mac`` holds the frame's MACs (Ethernet, not tunnelled)

    @classmethod
    def empty(cls, n: int) -> Columns:
        return cls(np.zeros(n, np.uint8), np.zeros(n, np.uint8), np.zeros(n, np.uint16),
                   np.zeros(n, np.uint16), np.zeros(n, np.uint8), np.zeros(n, np.uint32),
                   np.zeros(n, np.uint32), np.zeros(n, np.int64), np.zeros(n, np.int64),
                   np.zeros((n, KEY_LEN), np.uint8), np.zeros(n, np.uint64),
                   np.zeros(n, np.bool_), np.zeros(n, np.uint32), np.full(n, 255, np.uint8),
                   np.zeros(n, np.bool_), np.zeros((n, 32), np.uint8),
                   np.zeros((n, 12), np.uint8), np.zeros(n, np.bool_))


    def copy_row(self, i: int, other: Columns, j: int) -> None:
        """Row ``i`` takes what row ``j`` of ``other`` decoded from the IP layer up; its frame's
        link-layer columns (the MACs) stay, since a reassembled datagram has none of its own."""
        for name in self.__slots__:
            if name not in LINK_COLUMNS:
                getattr(self, name)[i] = getattr(other, name)[j]


def decode_datagram(datagram: bytes) -> Columns:
    """Decode one raw IP datagram (a reassembled one, say) into one row of columns."""
    records = np.zeros(1, RECORD)
    records["caplen"], records["linktype"] = len(datagram), LINKTYPE_RAW
    return decode_block(np.frombuffer(datagram, np.uint8), records)


def decode_block(buf: np.ndarray, records: np.ndarray) -> Columns:
    """Decode the frames of a :class:`~sensor.capture.FrameBlock` into columns."""
    cols = Columns.empty(len(records))
    _decode(buf, records["offset"], records["caplen"], records["linktype"], cols.status,
            cols.proto, cols.sport, cols.dport, cols.tcp_flags, cols.seq, cols.ack, cols.pay_off,
            cols.pay_len, cols.key, cols.hash, cols.a_is_src, cols.teid, cols.qfi, cols.tunnel,
            cols.outer, cols.mac, cols.has_mac, np.zeros(16, np.uint8), np.zeros(16, np.uint8))
    return cols


@njit(cache=True, inline="always")
def _u16(buf, p):
    return (np.int64(buf[p]) << 8) | buf[p + 1]


@njit(cache=True, inline="always")
def _u32(buf, p):
    return (np.int64(buf[p]) << 24) | (np.int64(buf[p + 1]) << 16) | (buf[p + 2] << 8) | buf[p + 3]


@njit(cache=True, inline="always")
def _link(buf, start, end, linktype):
    """(status, offset of the IP header, VLAN id) of one frame."""
    vlan = NO_VLAN
    if linktype == 1:
        if end - start < 14:
            return SLOW, 0, vlan
        ethertype = _u16(buf, start + 12)
        p = start + 14
        for _ in range(3):
            if ethertype != 0x8100 and ethertype != 0x88A8 and ethertype != 0x9100:
                break
            if p + 4 > end:
                return SLOW, 0, vlan
            vlan = _u16(buf, p) & 0x0FFF
            ethertype = _u16(buf, p + 2)
            p += 4
        if ethertype == 0x0800 or ethertype == 0x86DD:
            return OK, p, vlan
        return (SLOW if ethertype == 0x8847 or ethertype == 0x8848 else NOT_IP), 0, vlan
    if linktype == 0 or linktype == 108:
        return OK, start + 4, vlan
    if linktype == 113 or linktype == 276:
        at = start + 14 if linktype == 113 else start
        if end - start < 20:
            return SLOW, 0, vlan
        ethertype = _u16(buf, at)
        if ethertype != 0x0800 and ethertype != 0x86DD:
            return NOT_IP, 0, vlan
        return OK, start + (16 if linktype == 113 else 20), vlan
    if linktype == 101 or linktype == 228 or linktype == 229 or linktype == 12 or linktype == 14:
        return OK, start, vlan
    return SLOW, 0, vlan


@njit(cache=True, inline="always")
def _ip(buf, p, end, src, dst):
    """Parse an IP header at ``p``: (status, protocol, transport offset, end of the packet);
    the addresses go into ``src`` and ``dst`` (16 bytes each, IPv4 mapped into IPv6)."""
    if p >= end:
        return SLOW, 0, 0, 0
    version = buf[p] >> 4
    if version == 4:
        if p + 20 > end:
            return SLOW, 0, 0, 0
        ihl = (buf[p] & 0x0F) * 4
        total = _u16(buf, p + 2)
        if ihl < 20 or total < ihl or p + ihl > end or _u16(buf, p + 6) & 0x3FFF:
            return SLOW, 0, 0, 0   # bad header, or a fragment: the slow path reassembles
        for k in range(10):
            src[k] = dst[k] = 0
        src[10] = dst[10] = src[11] = dst[11] = 0xFF
        for k in range(4):
            src[12 + k] = buf[p + 12 + k]
            dst[12 + k] = buf[p + 16 + k]
        return OK, buf[p + 9], p + ihl, min(end, p + total)
    if version == 6:
        if p + 40 > end:
            return SLOW, 0, 0, 0
        payload = _u16(buf, p + 4)
        ip_end = min(end, p + 40 + payload) if payload else end
        for k in range(16):
            src[k] = buf[p + 8 + k]
            dst[k] = buf[p + 24 + k]
        proto = buf[p + 6]
        q = p + 40
        for _ in range(4):
            if proto != 0 and proto != 43 and proto != 60:
                break
            if q + 2 > ip_end:
                return SLOW, 0, 0, 0
            proto = buf[q]
            q += (buf[q + 1] + 1) * 8
        if proto == 0 or proto == 43 or proto == 60 or proto == 44 or proto == 51 or q > ip_end:
            return SLOW, 0, 0, 0
        return OK, proto, q, ip_end
    return SLOW, 0, 0, 0


@njit(cache=True, inline="always")
def _transport(buf, proto, q, ip_end):
    """(status, sport, dport, tcp flags, seq, payload offset, payload length)."""
    if proto == 6:
        if q + 20 > ip_end:
            return SLOW, 0, 0, 0, 0, 0, 0
        header = (buf[q + 12] >> 4) * 4
        if header < 20 or q + header > ip_end:
            return SLOW, 0, 0, 0, 0, 0, 0
        return (OK, _u16(buf, q), _u16(buf, q + 2), buf[q + 13], _u32(buf, q + 4), q + header,
                ip_end - q - header)
    if proto == 17:
        if q + 8 > ip_end:
            return SLOW, 0, 0, 0, 0, 0, 0
        length = _u16(buf, q + 4)
        stop = min(ip_end, q + length) if length >= 8 else ip_end
        return OK, _u16(buf, q), _u16(buf, q + 2), 0, 0, q + 8, stop - q - 8
    if proto == 132:
        if q + 12 > ip_end:
            return SLOW, 0, 0, 0, 0, 0, 0
        return OK, _u16(buf, q), _u16(buf, q + 2), 0, 0, q + 12, ip_end - q - 12
    if proto == 1 or proto == 58:
        if q + 4 > ip_end:
            return SLOW, 0, 0, 0, 0, 0, 0
        return OK, buf[q], buf[q + 1], 0, 0, q + 4, ip_end - q - 4
    return OK, 0, 0, 0, 0, q, ip_end - q


@njit(cache=True, inline="always")
def _gtpu_inner(buf, g, stop):
    """(inner IP offset or -1, end of the inner packet, TEID, QFI) of a GTP-U G-PDU at ``g``."""
    if g + 8 > stop:
        return -1, 0, 0, 255
    flags = buf[g]
    if flags >> 5 != 1 or not flags & 0x10 or buf[g + 1] != 255:
        return -1, 0, 0, 255    # not a G-PDU: signalling, metered as plain UDP
    teid = _u32(buf, g + 4)
    inner_end = min(stop, g + 8 + _u16(buf, g + 2))
    header = 8
    qfi = 255
    if flags & 0x07:
        header = 12
        if g + 12 > inner_end:
            return -1, 0, 0, 255
        next_type = buf[g + 11] if flags & 0x04 else 0
        for _ in range(8):
            if next_type == 0:
                break
            if g + header + 4 > inner_end:
                return -1, 0, 0, 255
            length = buf[g + header] * 4
            if length == 0 or g + header + length > inner_end:
                return -1, 0, 0, 255
            if next_type == 0x85:
                qfi = buf[g + header + 2] & 0x3F
            next_type = buf[g + header + length - 1]
            header += length
    return g + header, inner_end, teid, qfi


@njit(cache=True, inline="always")
def fill_key(keys, i, src, sport, dst, dport, proto, vlan):
    """Write the canonical flow key of one packet into row ``i`` of ``keys``; returns
    (a_is_src, hash). Element by element: a slice would need reference counts. The hash
    takes the key eight bytes at a time (FNV-1a over words, then a multiply-shift mix so
    that every byte reaches the low bits the flow table indexes by): five multiplies in a
    chain instead of forty."""
    a_is_src = sport <= dport
    for k in range(16):
        if src[k] != dst[k]:
            a_is_src = src[k] < dst[k]
            break
    a_port, b_port = (sport, dport) if a_is_src else (dport, sport)
    for k in range(16):
        keys[i, k], keys[i, 16 + k] = (src[k], dst[k]) if a_is_src else (dst[k], src[k])
    keys[i, 32], keys[i, 33] = a_port >> 8, a_port & 0xFF
    keys[i, 34], keys[i, 35] = b_port >> 8, b_port & 0xFF
    keys[i, 36], keys[i, 37] = proto, 0
    keys[i, 38], keys[i, 39] = vlan >> 8, vlan & 0xFF
    h = FNV_OFFSET
    for w in range(0, KEY_LEN, 8):
        word = np.uint64(0)
        for k in range(w, w + 8):
            word = (word << np.uint64(8)) | np.uint64(keys[i, k])
        h = (h ^ word) * FNV_PRIME
    h = (h ^ (h >> np.uint64(33))) * MIX_PRIME
    return a_is_src, h ^ (h >> np.uint64(33))


@njit(cache=True)
def _decode(buf, offsets, caplens, linktypes, status, protos, sports, dports, tcp_flags, seqs,
            acks, pay_offs, pay_lens, keys, hashes, a_is_src, teids, qfis, tunnels, outers,
            macs, has_mac, src, dst):
    """Decode every frame into its row of the columns; ``src`` and ``dst``: room for the
    addresses of the packet at hand."""
    for i in range(len(offsets)):
        start = offsets[i]
        end = start + caplens[i]
        state, p, vlan = _link(buf, start, end, linktypes[i])
        if linktypes[i] == 1 and end - start >= 14:
            for k in range(6):
                macs[i, k] = buf[start + 6 + k]     # source (second in the header)
                macs[i, 6 + k] = buf[start + k]     # destination
            has_mac[i] = True
        if state != OK:
            status[i] = state
            continue
        state, proto, q, ip_end = _ip(buf, p, end, src, dst)
        if state != OK:
            status[i] = state
            continue
        state, sport, dport, flags, seq, pay_off, pay_len = _transport(buf, proto, q, ip_end)
        if state != OK:
            status[i] = state
            continue
        if proto == 17 and (dport == GTPU_PORT or sport == GTPU_PORT):
            inner, inner_end, teid, qfi = _gtpu_inner(buf, pay_off, pay_off + pay_len)
            if inner >= 0:
                for k in range(16):
                    outers[i, k], outers[i, 16 + k] = src[k], dst[k]
                state, proto, q, ip_end = _ip(buf, inner, inner_end, src, dst)
                if state == OK:
                    state, sport, dport, flags, seq, pay_off, pay_len = _transport(
                        buf, proto, q, ip_end)
                if state != OK:
                    status[i] = SLOW
                    continue
                tunnels[i], teids[i], qfis[i] = True, teid, qfi
                has_mac[i] = False
        protos[i], sports[i], dports[i], tcp_flags[i], seqs[i] = proto, sport, dport, flags, seq
        if proto == 6:
            acks[i] = _u32(buf, q + 8)
        pay_offs[i], pay_lens[i] = pay_off, pay_len
        a_is_src[i], hashes[i] = fill_key(keys, i, src, sport, dst, dport, proto, vlan)
