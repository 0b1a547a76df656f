"""GTPv1-U signalling (3GPP TS 29.281): echo, error indication, end marker and the other messages
that are not user data.

G-PDUs are metered by the batch decoder as inner flows; one reaches this analyzer only when the
batch decoder could not take its inner packet apart (not IP, or an inner IPv4 fragment), and then
it becomes an event like any other message, saying which. The
GTPv1 header and the TV/TLV information elements are shared with GTPv1-C (:mod:`.gtpv1`).

>>> echo = bytes.fromhex("32 01 0004 00000000 1234 00 00")
>>> result = parse_pdu(echo, to_server=True)
>>> result.consumed, result.pdu.header.sequence
(12, 4660)
>>> to_event(result.pdu, None)["gtp"]["message_name"]
'echo_request'
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, Parsed, ParseResult, code_name

HEADER = struct.Struct(">BBHI")         # flags, message type, length, TEID
OPTIONAL = struct.Struct(">HBB")         # sequence, N-PDU number, next extension header type
FLAG_E, FLAG_S, FLAG_PN = 0x04, 0x02, 0x01
MAX_EXTENSION_HEADERS = 16
G_PDU = 255

MESSAGE_NAMES = {
    1: "echo_request", 2: "echo_response", 26: "error_indication",
    31: "supported_extension_headers_notification", 253: "tunnel_status", 254: "end_marker",
    255: "g_pdu",
}
EXTENSION_HEADER_NAMES = {
    0x01: "mbms_support_indication", 0x02: "ms_info_change_reporting_support_indication",
    0x20: "service_class_indicator", 0x40: "udp_port", 0x81: "ran_container",
    0x82: "long_pdcp_pdu_number", 0x83: "xw_ran_container", 0x84: "nr_ran_container",
    0x85: "pdu_session_container", 0xC0: "pdcp_pdu_number", 0xC1: "suspend_request",
    0xC2: "suspend_response",
}
# Octets of the value of each TV information element of GTPv1 (TS 29.060 §7.7); types of 128
# and above are TLV with a two-octet length.
TV_LENGTHS = {
    1: 1, 2: 8, 3: 6, 4: 4, 5: 4, 8: 1, 9: 28, 11: 1, 12: 3, 13: 1, 14: 1, 15: 1, 16: 4, 17: 4,
    18: 5, 19: 1, 20: 1, 21: 1, 22: 9, 23: 1, 24: 1, 25: 2, 26: 2, 27: 2, 28: 2, 29: 1, 127: 4,
}
IE_RECOVERY, IE_TEID_DATA_I, IE_PEER_ADDRESS, IE_EXTENSION_HEADER_LIST = 14, 16, 133, 141

InfoElements = tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class V1Header:
    """The GTPv1 header, its optional fields and its chain of extension headers."""

    flags: int
    message_type: int
    length: int
    teid: int
    sequence: int | None = None
    npdu_number: int | None = None
    extension_headers: tuple[int, ...] = ()
    qfi: int | None = None
    body: int = HEADER.size        # offset of the first information element
    end: int = HEADER.size         # offset just past the message (or the datagram, if shorter)
    truncated: bool = False        # the datagram ends before the length says the message does


@dataclass(frozen=True, slots=True)
class GtpuPdu:
    header: V1Header
    ies: InfoElements
    anomalies: tuple[str, ...] = field(default=())


def probe(payload: bytes) -> bool | None:
    """GTP version 1 with the GTP (not GTP') protocol type, and a GTP-U message type."""
    if len(payload) < HEADER.size:
        return None
    return payload[0] >> 4 == 0x3 and payload[1] in MESSAGE_NAMES


def parse_v1_header(buf: bytes, protocol: str) -> V1Header | Malformed:
    """The header of a GTPv1 message (GTP-U or GTP-C) at the start of ``buf``. Datagrams come
    whole: a header cut short is malformed (reasons are prefixed with ``protocol``), a body cut
    short (a small snap length) is decoded as far as it goes and flagged ``truncated``."""
    if len(buf) < HEADER.size:
        return Malformed(f"{protocol}_truncated")
    flags, message_type, length, teid = HEADER.unpack_from(buf)
    if flags >> 5 != 1 or not flags & 0x10:
        return Malformed(f"{protocol}_not_gtpv1")
    declared_end = HEADER.size + length
    end = min(declared_end, len(buf))
    header = V1Header(flags, message_type, length, teid, end=end,
                      truncated=end < declared_end)
    if not flags & (FLAG_E | FLAG_S | FLAG_PN):
        return header
    return _optional_fields(buf, header, protocol)


def _optional_fields(buf: bytes, header: V1Header, protocol: str) -> V1Header | Malformed:
    body = HEADER.size + OPTIONAL.size
    if len(buf) < body:
        return Malformed(f"{protocol}_truncated")
    if header.length < OPTIONAL.size:
        return Malformed(f"{protocol}_bad_length")
    sequence, npdu, next_type = OPTIONAL.unpack_from(buf, HEADER.size)
    flags = header.flags
    chain = _extension_chain(buf, body, header.end, next_type if flags & FLAG_E else 0)
    if chain is None:
        return Malformed(f"{protocol}_bad_extension_header")
    types, qfi, body = chain
    return V1Header(flags, header.message_type, header.length, header.teid,
                    sequence if flags & FLAG_S else None, npdu if flags & FLAG_PN else None,
                    types, qfi, body, header.end, header.truncated)


def _extension_chain(buf: bytes, offset: int, end: int, next_type: int
                     ) -> tuple[tuple[int, ...], int | None, int] | None:
    """(types, QFI of a PDU session container, offset after the chain), or None if broken."""
    types: list[int] = []
    qfi = None
    while next_type:
        length = 4 * buf[offset] if offset < end else 0
        if not length or offset + length > end or len(types) == MAX_EXTENSION_HEADERS:
            return None
        types.append(next_type)
        if next_type == 0x85 and length >= 4:
            qfi = buf[offset + 2] & 0x3F
        next_type = buf[offset + length - 1]
        offset += length
    return tuple(types), qfi, offset


def iter_v1_ies(buf: bytes, offset: int, end: int) -> Iterator[tuple[int, bytes] | str]:
    """The (type, value) information elements of a GTPv1 message; a string (the anomaly) when
    the rest cannot be walked: an unknown TV type has no length to skip by."""
    while offset < end:
        ie_type = buf[offset]
        if ie_type < 128:
            size = TV_LENGTHS.get(ie_type)
            if size is None:
                yield "unknown_tv_ie"
                return
            start = offset + 1
        elif ie_type == IE_EXTENSION_HEADER_LIST:     # the one TLV with a one-octet length
            size = buf[offset + 1] if offset + 2 <= end else end
            start = offset + 2
        else:
            if offset + 3 > end:
                yield "truncated_ie"
                return
            size = int.from_bytes(buf[offset + 1:offset + 3], "big")
            start = offset + 3
        if start + size > end:
            yield "truncated_ie"
            return
        yield ie_type, bytes(buf[start:start + size])
        offset = start + size


def split_ies(buf: bytes, header: V1Header) -> tuple[InfoElements, tuple[str, ...]]:
    """The information elements of a message, and the anomalies met walking them."""
    ies: list[tuple[int, bytes]] = []
    anomalies: list[str] = []
    for item in iter_v1_ies(buf, header.body, header.end):
        if isinstance(item, str):
            anomalies.append(item)
        else:
            ies.append(item)
    if header.truncated:
        anomalies.append("truncated")
    elif len(buf) > header.end:
        anomalies.append("trailing_bytes")
    return tuple(ies), tuple(anomalies)


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    header = parse_v1_header(buf, "gtpu")
    if isinstance(header, Malformed):
        return header
    if header.message_type == G_PDU:
        return Parsed(GtpuPdu(header, (), _g_pdu_anomalies(buf, header)), len(buf))
    ies, anomalies = split_ies(buf, header)
    return Parsed(GtpuPdu(header, ies, anomalies), len(buf))


def _g_pdu_anomalies(buf: bytes, header: V1Header) -> tuple[str, ...]:
    """Why a G-PDU was not metered as an inner flow: its payload is not IP, is a fragment of an
    IPv4 packet, or is IP the batch decoder could not take apart."""
    reason = _inner_payload_kind(buf[header.body:header.end])
    return (reason, "truncated") if header.truncated else (reason,)


def _inner_payload_kind(payload: bytes) -> str:
    version = payload[0] >> 4 if payload else 0
    if version == 4 and len(payload) >= 8 and int.from_bytes(payload[6:8], "big") & 0x3FFF:
        return "payload_ip_fragment"        # more fragments, or a fragment offset
    return "payload_undecoded" if version in (4, 6) else "payload_not_ip"


def header_fields(header: V1Header, names: dict[int, str]) -> dict[str, Any]:
    """The event fields of a GTPv1 header (GTP-U and GTP-C alike)."""
    fields: dict[str, Any] = {
        "version": 1,
        "flags": header.flags,
        "message_type": header.message_type,
        "message_name": code_name(names, header.message_type),
        "length": header.length,
        "teid": header.teid,
    }
    if header.sequence is not None:
        fields["sequence"] = header.sequence
    if header.npdu_number is not None:
        fields["npdu_number"] = header.npdu_number
    if header.extension_headers:
        fields["extension_headers"] = list(header.extension_headers)
        fields["extension_header_names"] = [code_name(EXTENSION_HEADER_NAMES, t)
                                            for t in header.extension_headers]
    if header.qfi is not None:
        fields["qfi"] = header.qfi
    return fields


def ip_text(raw: bytes) -> str | None:
    """An IPv4 or IPv6 address of 4 or 16 octets as text."""
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return None


def _ie_fields(ies: InfoElements) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for ie_type, value in ies:
        if ie_type == IE_RECOVERY:
            fields["recovery"] = value[0]
        elif ie_type == IE_TEID_DATA_I:
            fields["teid_data"] = int.from_bytes(value, "big")
        elif ie_type == IE_PEER_ADDRESS and len(value) in (4, 16):
            fields["peer_address"] = ip_text(value)
        elif ie_type == IE_EXTENSION_HEADER_LIST:
            fields["supported_extension_headers"] = list(value)
    if ies:
        fields["ie_types"] = [ie_type for ie_type, _ in ies]
    return fields


def to_event(pdu: GtpuPdu, state: None = None) -> dict[str, Any]:
    fields = header_fields(pdu.header, MESSAGE_NAMES) | _ie_fields(pdu.ies)
    if pdu.anomalies:
        fields["anomalies"] = list(pdu.anomalies)
    return {"network": {"protocol": "gtpu"}, "gtp": fields}


ANALYZER = AnalyzerSpec(
    name="gtpu", transport="udp", ports=(2152,), probe=probe, parse=parse_pdu,
    to_event=to_event,
)
