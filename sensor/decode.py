"""Frame → :class:`Packet`: link layer, VLAN tags, IPv4/IPv6 and the transport header.

This is the per-packet path, built on dpkt; it never raises on bad input. A frame that cannot be
decoded comes back as a :class:`Packet` with ``malformed`` set to a stable reason, so the engine
can count it and report it as a ``weird`` event.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import dpkt

from sensor.capture import Frame
from sensor.fragments import Fragment

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW = 0, 1, 101
LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2 = 113, 228, 229, 276
LINKTYPE_LOOP = 108
TRANSPORTS = {6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "ipv6-icmp"}


@dataclass(slots=True)
class Packet:
    frame: int
    ts_us: int
    wire_len: int
    src: str = ""
    dst: str = ""
    proto: int = -1          # IP protocol number; -1 when the frame carries no IP
    sport: int = 0
    dport: int = 0
    vlan: int | None = None
    tcp_flags: int = 0
    seq: int = 0
    ack: int = 0
    payload: bytes = b""
    fragment: Fragment | None = None
    malformed: str | None = None

    @property
    def transport(self) -> str:
        return TRANSPORTS.get(self.proto, str(self.proto))


def decode(frame: Frame) -> Packet:
    """Decode one frame; problems are reported in ``Packet.malformed``, never raised."""
    packet = Packet(frame.number, frame.ts_ns // 1_000, frame.wire_len)
    try:
        ip = _network_layer(frame, packet)
        if ip is not None:
            _fill_ip(ip, packet)
    except (dpkt.UnpackError, ValueError, IndexError) as exc:
        packet.malformed = _reason(exc)
    return packet


def _reason(exc: Exception) -> str:
    if isinstance(exc, dpkt.NeedData):
        return "truncated_header"
    return "bad_header"


def _network_layer(frame: Frame, packet: Packet) -> dpkt.Packet | None:
    link, data = frame.linktype, frame.data
    if link == LINKTYPE_ETHERNET:
        eth = dpkt.ethernet.Ethernet(data)
        tags = getattr(eth, "vlan_tags", None)
        if tags:
            packet.vlan = tags[-1].id
        return eth.data if isinstance(eth.data, (dpkt.ip.IP, dpkt.ip6.IP6)) else None
    if link in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return _raw_ip(data[4:])
    if link == LINKTYPE_LINUX_SLL:
        return _raw_ip(data[16:]) if data[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if link == LINKTYPE_LINUX_SLL2:
        return _raw_ip(data[20:]) if data[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if link in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, 12, 14):
        return _raw_ip(data)
    packet.malformed = f"unsupported_linktype_{link}"
    return None


def _raw_ip(data: bytes) -> dpkt.Packet | None:
    if not data:
        raise dpkt.NeedData("empty")
    version = data[0] >> 4
    if version == 4:
        return dpkt.ip.IP(data)
    if version == 6:
        return dpkt.ip6.IP6(data)
    return None


def _fill_ip(ip: dpkt.Packet, packet: Packet) -> None:
    if ip.v != (4 if isinstance(ip, dpkt.ip.IP) else 6):
        packet.malformed = "ip_bad_version"
        return
    if isinstance(ip, dpkt.ip.IP):
        packet.src, packet.dst = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst)
        packet.proto = ip.p
        if ip.mf or ip.offset:
            packet.fragment = Fragment((packet.src, packet.dst, ip.p, ip.id), ip.offset,
                                       bool(ip.mf), bytes(ip.data))
            return
    else:
        family = socket.AF_INET6
        packet.src, packet.dst = socket.inet_ntop(family, ip.src), socket.inet_ntop(family, ip.dst)
        packet.proto = ip.p
        header = ip.extension_hdrs.get(44) if hasattr(ip, "extension_hdrs") else None
        if header is not None:
            packet.fragment = Fragment((packet.src, packet.dst, ip.p, header.id),
                                       header.frag_off * 8, bool(header.m_flag), ip.data
                                       if isinstance(ip.data, bytes) else bytes(ip.data))
            return
    fill_transport(packet, ip.data)


def fill_transport(packet: Packet, segment: dpkt.Packet | bytes) -> None:
    """Ports, TCP state and payload of a transport segment, parsed or still raw bytes."""
    if isinstance(segment, bytes) and packet.proto == 132:
        _fill_sctp(packet, segment)
        return
    if isinstance(segment, bytes) and packet.proto in (6, 17):
        segment = _parse_transport(packet.proto, segment)
        if segment is None:
            packet.malformed = f"truncated_{packet.transport}"
            return
    if isinstance(segment, dpkt.tcp.TCP):
        packet.sport, packet.dport = segment.sport, segment.dport
        packet.tcp_flags, packet.seq = segment.flags & 0xFF, segment.seq
        packet.ack = segment.ack
        packet.payload = bytes(segment.data)
    elif isinstance(segment, dpkt.udp.UDP):
        packet.sport, packet.dport, packet.payload = segment.sport, segment.dport, segment.data
    elif isinstance(segment, dpkt.sctp.SCTP):
        _fill_sctp(packet, bytes(segment))
    elif isinstance(segment, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        packet.sport, packet.dport = segment.type, segment.code  # as Community ID treats them


def _parse_transport(proto: int, raw: bytes) -> dpkt.Packet | None:
    try:
        return dpkt.tcp.TCP(raw) if proto == 6 else dpkt.udp.UDP(raw)
    except dpkt.UnpackError:
        return None


def _fill_sctp(packet: Packet, raw: bytes) -> None:
    """SCTP from its common header; the chunks stay raw for :mod:`sensor.sctp`."""
    if len(raw) < 12:
        packet.malformed = "truncated_sctp"
        return
    packet.sport, packet.dport = int.from_bytes(raw[0:2], "big"), int.from_bytes(raw[2:4], "big")
    packet.payload = raw[12:]
