"""Ethernet frames from raw structs: plain TCP/UDP, or GTP-U on N3 with its inner IPv4/IPv6.

Every checksum is right (IPv4 header, inner TCP/UDP including IPv6 UDP) so any tool reading
the capture sees valid packets; the outer UDP of GTP-U carries checksum 0, as gNBs and UPFs
commonly send it. Payloads are slices of one seeded random pool whose 16-bit word sums are
precomputed, so checksumming a payload costs one subtraction.

>>> builder = FrameBuilder(seed=1)
>>> flow = FlowSpec(17, bytes((10, 45, 0, 2)), bytes((198, 51, 100, 53)), 40000, 53)
>>> frame = builder.frame(flow, 0, 0, 40, 0, 0)
>>> len(frame), frame[12:14].hex(), frame[23]
(82, '0800', 17)
"""

from __future__ import annotations

import itertools
import random
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

ETH_IPV4, ETH_IPV6 = b"\x08\x00", b"\x86\xdd"
GTPU_PORT = 2152
ROUTER_MAC = bytes.fromhex("001b210a0001")
POOL_SIZE = 1 << 20

IPV4 = struct.Struct("!BBHHHBBH4s4s")
IPV6 = struct.Struct("!IHBB16s16s")
TCP = struct.Struct("!HHIIBBHHH")
UDP = struct.Struct("!HHHH")
GTPU = struct.Struct("!BBHIHBB")   # flags, type, length, TEID, sequence, N-PDU, next extension
WORDS = {n: struct.Struct(f"!{n // 2}H") for n in (4, 8, 16, 20)}
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
PCAP_RECORD = struct.Struct("<IIII")


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The N3 leg of one PDU session: gNB and UPF (IPv4) and the TEID each side assigned."""

    gnb: bytes
    upf: bytes
    ul_teid: int     # assigned by the UPF, carried gNB → UPF
    dl_teid: int     # assigned by the gNB, carried UPF → gNB


@dataclass(slots=True)
class FlowSpec:
    proto: int
    client: bytes    # 4 or 16 bytes; the UE when tunnelled
    server: bytes
    client_port: int
    server_port: int
    qfi: int = 9
    tunnel: Tunnel | None = None
    pseudo_sum: int = field(init=False)

    def __post_init__(self) -> None:
        self.pseudo_sum = word_sum(self.client) + word_sum(self.server) + self.proto


def word_sum(data: bytes) -> int:
    return sum(WORDS[len(data)].unpack(data))


def fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_header(src: bytes, dst: bytes, proto: int, length: int, ident: int) -> bytes:
    header = IPV4.pack(0x45, 0, length, ident, 0x4000, 64, proto, 0, src, dst)
    checksum = ~fold(word_sum(header)) & 0xFFFF
    return header[:10] + checksum.to_bytes(2, "big") + header[12:]


def mac_of(address: bytes) -> bytes:
    return b"\x02\x00" + address[-4:]   # locally administered, derived from the address


class FrameBuilder:
    """Builds one frame per scripted step."""

    def __init__(self, seed: int) -> None:
        self._pool = random.Random(seed).randbytes(POOL_SIZE)
        words = struct.unpack(f"!{POOL_SIZE // 2}H", self._pool)
        self._prefix = [0, *itertools.accumulate(words)]
        self._ident = 0
        self._cursor = 0

    def frame(self, flow: FlowSpec, direction: int, flags: int, size: int, seq: int,
              ack: int) -> bytes:
        self._ident = (self._ident + 1) & 0xFFFF
        inner = self._ip(flow, direction, self._transport(flow, direction, flags, size, seq, ack))
        if flow.tunnel is None:
            ends = (ROUTER_MAC, mac_of(flow.client))
            return ends[direction] + ends[1 - direction] + _ethertype(inner) + inner
        return self._n3(flow.tunnel, direction, flow.qfi, inner)

    def _payload(self, size: int) -> tuple[bytes, int]:
        self._cursor = (self._cursor + 2 * 7919) % (POOL_SIZE - 4096)
        start = self._cursor
        total = self._prefix[(start + size) // 2] - self._prefix[start // 2]
        if size % 2:
            total += self._pool[start + size - 1] << 8
        return self._pool[start:start + size], total

    def _transport(self, flow: FlowSpec, direction: int, flags: int, size: int, seq: int,
                   ack: int) -> bytes:
        payload, payload_sum = self._payload(size)
        ports = (flow.client_port, flow.server_port)
        sport, dport = ports if direction == 0 else ports[::-1]
        partial = flow.pseudo_sum + payload_sum
        if flow.proto == 6:
            partial += word_sum(TCP.pack(sport, dport, seq, ack, 0x50, flags, 64240, 0, 0))
            checksum = ~fold(partial + 20 + size) & 0xFFFF
            return TCP.pack(sport, dport, seq, ack, 0x50, flags, 64240, checksum, 0) + payload
        length = 8 + size
        checksum = ~fold(partial + sport + dport + 2 * length) & 0xFFFF or 0xFFFF
        return UDP.pack(sport, dport, length, checksum) + payload

    def _ip(self, flow: FlowSpec, direction: int, segment: bytes) -> bytes:
        src, dst = (flow.client, flow.server) if direction == 0 else (flow.server, flow.client)
        if len(src) == 4:
            return ipv4_header(src, dst, flow.proto, 20 + len(segment), self._ident) + segment
        return IPV6.pack(0x60000000, len(segment), flow.proto, 64, src, dst) + segment

    def _n3(self, tunnel: Tunnel, direction: int, qfi: int, inner: bytes) -> bytes:
        if direction == 0:   # uplink: PDU Session Container of type 1 (UL PDU session info)
            src, dst, teid, pdu_type = tunnel.gnb, tunnel.upf, tunnel.ul_teid, 1
        else:                # downlink: type 0 (DL PDU session info)
            src, dst, teid, pdu_type = tunnel.upf, tunnel.gnb, tunnel.dl_teid, 0
        container = bytes((1, pdu_type << 4, qfi & 0x3F, 0))   # 1×4 octets, no next extension
        gtp = GTPU.pack(0x34, 0xFF, 8 + len(inner), teid, 0, 0, 0x85) + container
        udp = UDP.pack(GTPU_PORT, GTPU_PORT, 8 + len(gtp) + len(inner), 0)
        ip = ipv4_header(src, dst, 17, 20 + len(udp) + len(gtp) + len(inner), self._ident)
        return mac_of(dst) + mac_of(src) + ETH_IPV4 + ip + udp + gtp + inner


def _ethertype(ip: bytes) -> bytes:
    return ETH_IPV4 if ip[0] >> 4 == 4 else ETH_IPV6


class PcapWriter:
    """Classic pcap, microsecond timestamps, Ethernet link type."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        out.write(PCAP_HEADER)

    def write(self, ts_us: int, frame: bytes) -> None:
        sec, usec = divmod(ts_us, 1_000_000)
        self._out.write(PCAP_RECORD.pack(sec, usec, len(frame), len(frame)))
        self._out.write(frame)
