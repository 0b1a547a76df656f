"""Real industrial and 5G signalling traffic from ../shared/pcaps, re-timed and repeated.

Each repetition of a capture gets fresh addresses (every original address maps to a new one in
172.16.0.0/12 or fd00::/8), so repetitions form distinct flows, as if the same polling or
signalling ran at many sites at once. Each repetition keeps its packets' order and spacing,
squeezed to fit the benchmark's time span when the original is longer, and starts at a seeded
random offset. IPv4 header checksums are recomputed and TCP/UDP checksums adjusted (RFC 1624;
one that was wrong in the original, e.g. from checksum offload, stays wrong); SCTP's CRC32c does
not cover addresses. Linux cooked (SLL) frames get an Ethernet header.
Frames that are not IP are left out.
"""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

from bench.frames import ETH_IPV4, ETH_IPV6, fold, word_sum

LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL = 1, 113
VLAN_TYPES = (b"\x81\x00", b"\x88\xa8")
SLL_DESTINATION = bytes.fromhex("020000000001")
IPV6_EXTENSIONS = (0, 43, 44, 60)   # hop-by-hop, routing, fragment, destination options
FlowTuple = tuple[int, tuple[bytes, int], tuple[bytes, int]]


@dataclass(frozen=True, slots=True)
class Source:
    kind: str
    path: str              # under the shared pcaps folder
    repeats: int
    only_proto: int | None = None   # keep one IP protocol (SCTP out of a mixed capture)


SOURCES = (
    Source("modbus", "ITI__ICS-Security-Tools/pcaps__ModbusTCP__ModbusTCP.pcap", 2),
    Source("modbus",
           "antoine-lemay__Modbus_dataset/characterization_modbus_6RTU_with_operate.pcap", 1),
    Source("s7comm",
           "ITI__ICS-Security-Tools/pcaps__s7__s7comm_varservice_libnodavedemo_bench.pcap", 2),
    Source("s7comm", "ITI__ICS-Security-Tools/pcaps__s7__s7comm_reading_plc_status.pcap", 10),
    Source("iec104",
           "ITI__ICS-Security-Tools/pcaps__IEC60870-5-104__JavaRMI_and_IEC_Misc.pcap", 10),
    Source("iec104", "ITI__ICS-Security-Tools/pcaps__IEC60870-5-104__090813_diverse.pcap", 10),
    Source("pfcp", "BerezinaElizaveta__Diploma/n4.pcap", 2),
    Source("ngap", "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng", 5, 132),
    Source("ngap",
           "abdessamad-elamrani__traffic-factory/[5g_NGAP]_gnodeb-to-amf-during-UEinit.pcap",
           20, 132),
)


@dataclass(slots=True)
class Replayed:
    """Frames ready to merge (``(µs, bytes)``) and what they hold, by kind."""

    frames: list[tuple[int, bytes]] = field(default_factory=list)
    packets: Counter[str] = field(default_factory=Counter)
    flows: dict[str, set[FlowTuple]] = field(default_factory=dict)


class AddressPool:
    """Fresh addresses, never handed out twice."""

    def __init__(self) -> None:
        self._v4 = int(ipaddress.IPv4Address("172.16.0.1"))
        self._v6 = int(ipaddress.IPv6Address("fd00:6265:6e63:6800::1"))

    def take(self, width: int) -> bytes:
        if width == 16:
            self._v6 += 1
            return self._v6.to_bytes(16, "big")
        self._v4 += 1
        if self._v4 & 0xFF in (0, 255):
            self._v4 += 2
        return self._v4.to_bytes(4, "big")


def replay_sources(folder: Path, span_us: int, rng: random.Random,
                   sources: tuple[Source, ...] = SOURCES) -> Replayed:
    out = Replayed()
    pool = AddressPool()
    for source in sources:
        frames = _ip_frames(folder / source.path, source.only_proto)
        flows = out.flows.setdefault(source.kind, set())
        for _ in range(source.repeats):
            for ts_us, frame, flow in _repetition(frames, span_us, rng, pool):
                out.frames.append((ts_us, frame))
                if flow is not None:
                    flows.add(flow)
            out.packets[source.kind] += len(frames)
    return out


def _ip_frames(path: Path, only_proto: int | None) -> list[tuple[int, bytes, int]]:
    """``(µs, Ethernet frame, offset of the IP header)`` of every IP frame worth keeping."""
    with path.open("rb") as handle:
        reader = dpkt.pcap.UniversalReader(handle)
        link = reader.datalink()
        frames = []
        for ts, data in reader:
            found = _as_ethernet(link, bytes(data))
            if found and _whole_ip_header(*found) and only_proto in (None, _proto(*found)):
                frames.append((round(ts * 1_000_000), *found))
    return frames


def _as_ethernet(link: int, frame: bytes) -> tuple[bytes, int] | None:
    if link == LINKTYPE_ETHERNET:
        offset = 12
        while frame[offset:offset + 2] in VLAN_TYPES:
            offset += 4
        return (frame, offset + 2) if frame[offset:offset + 2] in (ETH_IPV4, ETH_IPV6) else None
    if link == LINKTYPE_LINUX_SLL and frame[14:16] in (ETH_IPV4, ETH_IPV6):
        return SLL_DESTINATION + frame[6:12] + frame[14:16] + frame[16:], 14
    return None


def _whole_ip_header(frame: bytes, l3: int) -> bool:
    version = frame[l3] >> 4 if len(frame) > l3 else 0
    return ((version == 4 and len(frame) >= l3 + (frame[l3] & 0x0F) * 4 >= l3 + 20)
            or (version == 6 and len(frame) >= l3 + 40))


def _proto(frame: bytes, l3: int) -> int:
    return frame[l3 + 9] if frame[l3] >> 4 == 4 else frame[l3 + 6]


def _repetition(frames: list[tuple[int, bytes, int]], span_us: int, rng: random.Random,
                pool: AddressPool) -> list[tuple[int, bytes, FlowTuple | None]]:
    first, last = min(ts for ts, _, _ in frames), max(ts for ts, _, _ in frames)
    squeeze = min(1.0, 0.9 * span_us / max(1, last - first))
    start = rng.randint(0, int(span_us - squeeze * (last - first)))
    renumbered: dict[bytes, bytes] = {}
    out = []
    for ts_us, frame, l3 in frames:
        data, flow = _renumber(frame, l3, renumbered, pool)
        out.append((start + int((ts_us - first) * squeeze), data, flow))
    return out


def _renumber(frame: bytes, l3: int, renumbered: dict[bytes, bytes],
              pool: AddressPool) -> tuple[bytes, FlowTuple | None]:
    buf = bytearray(frame)
    v4 = buf[l3] >> 4 == 4
    width, src_at = (4, l3 + 12) if v4 else (16, l3 + 8)
    old = bytes(buf[src_at:src_at + 2 * width])
    for at in (src_at, src_at + width):
        address = bytes(buf[at:at + width])
        if address not in renumbered:
            renumbered[address] = pool.take(width)
        buf[at:at + width] = renumbered[address]
    new = bytes(buf[src_at:src_at + 2 * width])
    proto, l4, has_ports = _transport_at(buf, l3, v4)
    if v4:
        _ipv4_checksum(buf, l3)
    if has_ports:
        _adjust_l4_checksum(buf, proto, l4, old, new)
    return bytes(buf), _flow_tuple(buf, proto, l4, new, width, has_ports)


def _ipv4_checksum(buf: bytearray, l3: int) -> None:
    buf[l3 + 10:l3 + 12] = b"\x00\x00"
    checksum = ~fold(_sum(bytes(buf[l3:l3 + (buf[l3] & 0x0F) * 4]))) & 0xFFFF
    buf[l3 + 10:l3 + 12] = checksum.to_bytes(2, "big")


def _transport_at(buf: bytearray, l3: int, v4: bool) -> tuple[int, int, bool]:
    """IP protocol, offset of the transport header, and whether that header is in this packet
    (not a later fragment)."""
    if v4:
        first = int.from_bytes(buf[l3 + 6:l3 + 8], "big") & 0x1FFF == 0
        return buf[l3 + 9], l3 + (buf[l3] & 0x0F) * 4, first
    proto, at, first = buf[l3 + 6], l3 + 40, True
    while proto in IPV6_EXTENSIONS and at + 8 <= len(buf):
        if proto == 44:
            first = int.from_bytes(buf[at + 2:at + 4], "big") >> 3 == 0
            proto, at = buf[at], at + 8
        else:
            proto, at = buf[at], at + (buf[at + 1] + 1) * 8
    return proto, at, first


def _adjust_l4_checksum(buf: bytearray, proto: int, l4: int, old: bytes, new: bytes) -> None:
    """RFC 1624: HC' = ~(~HC + ~m + m') over the pseudo-header's address words."""
    at = l4 + {6: 16, 17: 6}.get(proto, -1)
    if at < l4 or at + 2 > len(buf):
        return
    checksum = int.from_bytes(buf[at:at + 2], "big")
    if proto == 17 and checksum == 0:
        return   # IPv4 UDP without a checksum
    words = len(old) // 2
    total = (~checksum & 0xFFFF) + words * 0xFFFF - _sum(old) + _sum(new)
    updated = ~fold(total) & 0xFFFF
    buf[at:at + 2] = (updated or (0xFFFF if proto == 17 else 0)).to_bytes(2, "big")


def _sum(data: bytes) -> int:
    if len(data) in (4, 8, 16, 20):
        return word_sum(data)
    return sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))


def _flow_tuple(buf: bytearray, proto: int, l4: int, addresses: bytes, width: int,
                has_ports: bool) -> FlowTuple | None:
    """The packet's bidirectional 5-tuple; None for a later fragment (its flow is counted by
    the first)."""
    ports = (0, 0)
    if proto in (6, 17, 132):
        if not has_ports:
            return None
        if len(buf) >= l4 + 4:
            ports = (int.from_bytes(buf[l4:l4 + 2], "big"),
                     int.from_bytes(buf[l4 + 2:l4 + 4], "big"))
    a, b = (addresses[:width], ports[0]), (addresses[width:], ports[1])
    return (proto, a, b) if a <= b else (proto, b, a)
