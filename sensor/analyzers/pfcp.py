"""PFCP (3GPP TS 29.244), the N4 / Sxa / Sxb protocol between control- and user-plane functions.

One event per message; a datagram whose header sets the follow-on (FO) flag carries further
messages, each parsed and reported on its own. Information elements (IEs) are decoded by two
tables: ``LEAVES`` (how to read one IE's value) and ``GROUPS`` (which grouped IEs are opened and
which of their IEs are kept, as arrays under ``pfcp.<group>``).

>>> raw = bytes.fromhex("2001 000c 000001 00 0060 0004 e5d1a1c0")
>>> result = parse_pdu(raw, to_server=True)
>>> result.consumed, result.pdu.message_type, result.pdu.fields["recovery_time_stamp"]
(16, 1, '2022-03-08T09:34:56Z')
>>> to_event(result.pdu, FlowState())[0]["pfcp"]["message_type_name"]
'heartbeat_request'
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Any

from liaowang.events import iso_second
from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name

HEADER = struct.Struct(">BBH")
IE_HEADER = struct.Struct(">HH")
U8, U16, U32, U64 = (struct.Struct(f">{code}") for code in "BHIQ")
VERSION = 1
NODE_HEADER_LEN, SESSION_HEADER_LEN = 8, 16
MAX_PENDING = 64          # unanswered requests remembered per flow
MAX_GROUP_DEPTH = 4       # Create FAR > Duplicating Parameters is the deepest the spec nests
NTP_TO_UNIX = 2_208_988_800    # seconds from 1900-01-01 to 1970-01-01
IPV4_EMBEDDED_PREFIX = bytes(10)   # of IPv4-compatible and IPv4-mapped IPv6 addresses
NTP_ERA = 1 << 32

MESSAGE_NAMES = {
    1: "heartbeat_request", 2: "heartbeat_response",
    3: "pfd_management_request", 4: "pfd_management_response",
    5: "association_setup_request", 6: "association_setup_response",
    7: "association_update_request", 8: "association_update_response",
    9: "association_release_request", 10: "association_release_response",
    11: "version_not_supported_response", 12: "node_report_request", 13: "node_report_response",
    14: "session_set_deletion_request", 15: "session_set_deletion_response",
    16: "session_set_modification_request", 17: "session_set_modification_response",
    50: "session_establishment_request", 51: "session_establishment_response",
    52: "session_modification_request", 53: "session_modification_response",
    54: "session_deletion_request", 55: "session_deletion_response",
    56: "session_report_request", 57: "session_report_response",
}
SESSION_MESSAGES = range(50, 58)
# Messages that make sense only inside an association (TS 29.244 6.2.6, 6.3).
NEEDS_ASSOCIATION = frozenset(MESSAGE_NAMES) - {1, 2, 5, 6, 11}
ACCEPTED = 1
CAUSE_NAMES = {
    1: "request_accepted", 2: "more_usage_report_to_send", 3: "request_partially_accepted",
    64: "request_rejected", 65: "session_context_not_found", 66: "mandatory_ie_missing",
    67: "conditional_ie_missing", 68: "invalid_length", 69: "mandatory_ie_incorrect",
    70: "invalid_forwarding_policy", 71: "invalid_f_teid_allocation_option",
    72: "no_established_pfcp_association", 73: "rule_creation_modification_failure",
    74: "pfcp_entity_in_congestion", 75: "no_resources_available", 76: "service_not_supported",
    77: "system_failure", 78: "redirection_requested", 79: "all_dynamic_addresses_are_occupied",
    80: "unknown_pre_defined_rule", 81: "unknown_application_id",
}
SOURCE_INTERFACE_NAMES = {
    0: "access", 1: "core", 2: "sgi_lan_n6_lan", 3: "cp_function", 4: "5g_vn_internal",
}
DESTINATION_INTERFACE_NAMES = {
    0: "access", 1: "core", 2: "sgi_lan_n6_lan", 3: "cp_function", 4: "li_function",
    5: "5g_vn_internal",
}
NODE_ID_TYPE_NAMES = {0: "ipv4", 1: "ipv6", 2: "fqdn"}
REDIRECT_TYPE_NAMES = {0: "ipv4", 1: "ipv6", 2: "url", 3: "sip_uri", 4: "ipv4_and_ipv6"}
HEADER_REMOVAL_NAMES = {
    0: "gtp_u_udp_ipv4", 1: "gtp_u_udp_ipv6", 2: "udp_ipv4", 3: "udp_ipv6", 4: "ipv4",
    5: "ipv6", 6: "gtp_u_udp_ip", 7: "vlan_s_tag", 8: "s_tag_and_c_tag",
}
PDN_TYPE_NAMES = {1: "ipv4", 2: "ipv6", 3: "ipv4v6", 4: "non_ip", 5: "ethernet"}

# Flag names by octet, lowest bit first ("-" marks a bit without a name).
APPLY_ACTION_FLAGS = ("DROP FORW BUFF NOCP DUPL IPMA IPMD DFRT", "EDRT BDPN DDPN FSSM MBSU")
UP_FEATURE_FLAGS = (
    "BUCP DDND DLBD TRST FTUP PFDM HEEU TREU", "EMPU PDIU UDBC QUOAC TRACE FRRT PFDE EPFAR",
    "DPDRA ADPDP UEIP SSET MNOP MTE BUNDL GCOM", "MPAS RTTL VTIME NORP IPTV IP6PL TSCU MPTCP",
    "ATSSS-LL QFQM GPQM MT-EDT CIOT ETHAR DDDS RDS",
    "RTTWP QUASF NSPOC L2TP UPBER RESPS IPREP DNSTS", "DRQOS MBSN4 PSUPRM EPPPI RATP UPIDP",
)
CP_FEATURE_FLAGS = ("LOAD OVRL EPFAR SSET BUNDL MPAS ARDR UIAUR", "PSUCC RPGUR")
OUTER_HEADER_FLAGS = (
    "GTP-U/UDP/IPv4 GTP-U/UDP/IPv6 UDP/IPv4 UDP/IPv6 IPv4 IPv6 C-TAG S-TAG", "N19 N6 SSM-CTEID",
)
REPORTING_TRIGGER_FLAGS = (
    "PERIO VOLTH TIMTH QUHTI START STOPT DROTH LIUSA",
    "VOLQU TIMQU ENVCL MACAR EVETH EVEQU IPMJL QUVTI", "REEMR UPINT",
)
USAGE_TRIGGER_FLAGS = (
    "PERIO VOLTH TIMTH QUHTI START STOPT DROTH IMMER",
    "VOLQU TIMQU LIUSA TERMR MONIT ENVCL MACAR EVETH", "EVEQU TEBUR IPMJL QUVTI EMRRE UPINT",
)
MEASUREMENT_METHOD_FLAGS = ("DURAT VOLUM EVENT",)
REPORT_TYPE_FLAGS = ("DLDR USAR ERIR UPIR TMIR SESR UISR",)
NODE_REPORT_FLAGS = ("UPFR UPRR CKDR GPQR PURR VSR",)


class Ie(IntEnum):
    """The IE types this analyzer reads (TS 29.244 table 8.1.2-1)."""

    CREATE_PDR = 1
    PDI = 2
    CREATE_FAR = 3
    FORWARDING_PARAMETERS = 4
    DUPLICATING_PARAMETERS = 5
    CREATE_URR = 6
    CREATE_QER = 7
    CREATED_PDR = 8
    UPDATE_PDR = 9
    UPDATE_FAR = 10
    UPDATE_FORWARDING_PARAMETERS = 11
    UPDATE_BAR_REPORT_RESPONSE = 12
    UPDATE_URR = 13
    UPDATE_QER = 14
    REMOVE_PDR = 15
    REMOVE_FAR = 16
    REMOVE_URR = 17
    REMOVE_QER = 18
    CAUSE = 19
    SOURCE_INTERFACE = 20
    F_TEID = 21
    NETWORK_INSTANCE = 22
    SDF_FILTER = 23
    APPLICATION_ID = 24
    PRECEDENCE = 29
    REPORTING_TRIGGERS = 37
    REDIRECT_INFORMATION = 38
    REPORT_TYPE = 39
    OFFENDING_IE = 40
    FORWARDING_POLICY = 41
    DESTINATION_INTERFACE = 42
    UP_FUNCTION_FEATURES = 43
    APPLY_ACTION = 44
    PDR_ID = 56
    F_SEID = 57
    NODE_ID = 60
    MEASUREMENT_METHOD = 62
    USAGE_REPORT_TRIGGER = 63
    VOLUME_MEASUREMENT = 66
    DURATION_MEASUREMENT = 67
    START_TIME = 75
    END_TIME = 76
    USAGE_REPORT_MODIFICATION = 78
    USAGE_REPORT_DELETION = 79
    USAGE_REPORT_REPORT = 80
    URR_ID = 81
    DOWNLINK_DATA_REPORT = 83
    OUTER_HEADER_CREATION = 84
    CREATE_BAR = 85
    UPDATE_BAR = 86
    REMOVE_BAR = 87
    BAR_ID = 88
    CP_FUNCTION_FEATURES = 89
    UE_IP_ADDRESS = 93
    OUTER_HEADER_REMOVAL = 95
    RECOVERY_TIME_STAMP = 96
    ERROR_INDICATION_REPORT = 99
    NODE_REPORT_TYPE = 101
    USER_PLANE_PATH_FAILURE_REPORT = 102
    REMOTE_GTPU_PEER = 103
    UR_SEQN = 104
    UPDATE_DUPLICATING_PARAMETERS = 105
    FAR_ID = 108
    QER_ID = 109
    PDN_TYPE = 113
    QFI = 124
    USER_ID = 141
    APN_DNN = 159


class Anomaly(StrEnum):
    BAD_VERSION = "pfcp_bad_version"
    BAD_LENGTH = "pfcp_bad_length"
    IE_OVERRUN = "pfcp_ie_overrun"                  # an IE runs past its message or group
    IE_TOO_SHORT = "pfcp_ie_too_short"              # a value too short for its format
    NESTING_TOO_DEEP = "pfcp_nesting_too_deep"
    SEID_FLAG_MISMATCH = "pfcp_seid_flag_mismatch"  # S flag unlike the message's kind
    FLOODED = "pfcp_too_many_pending_requests"


@dataclass(frozen=True, slots=True)
class PfcpPdu:
    version: int
    message_type: int
    length: int
    sequence: int
    follow_on: bool
    to_server: bool
    seid: int | None = None
    priority: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)   # decoded IEs, dotted names
    anomalies: tuple[str, ...] = ()

    @property
    def is_request(self) -> bool:
        return is_request(self.message_type)


def is_request(message_type: int) -> bool:
    """Node requests below 11 are odd; from 12 on (and session messages) they are even."""
    if message_type < 11:
        return message_type % 2 == 1
    return message_type != 11 and message_type % 2 == 0


# ---------------------------------------------------------------- IE values


def _ip(raw: bytes) -> str:
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)    # as ipaddress writes it, 5× faster
    if len(raw) != 16:
        raise ValueError("truncated address")
    if raw[:10] == IPV4_EMBEDDED_PREFIX:   # inet_ntop writes these with a dotted quad
        return str(ipaddress.ip_address(raw))
    return socket.inet_ntop(socket.AF_INET6, raw)      # as ipaddress writes it, far faster


def _addresses(value: bytes, offset: int, v4: bool, v6: bool) -> tuple[list[str], int]:
    found = []
    if v4:
        found.append(_ip(value[offset:offset + 4]))
        offset += 4
    if v6:
        found.append(_ip(value[offset:offset + 16]))
        offset += 16
    return found, offset


def flag_names(value: bytes, table: tuple[str, ...]) -> list[str]:
    """Names of the bits set in ``value``, read with ``table`` (one string per octet).

    >>> flag_names(bytes([0x12]), APPLY_ACTION_FLAGS)
    ['FORW', 'DUPL']
    """
    names: list[str] = []
    for octet, row in zip(value, table, strict=False):
        names += _names_by_octet(row)[octet]
    return names


@lru_cache(maxsize=64)
def _names_by_octet(row: str) -> tuple[tuple[str, ...], ...]:
    """For each of the 256 octet values, the names of its bits set, in a row of a flag table
    (a constant): one look-up per octet instead of a test per bit."""
    named = [(bit, name) for bit, name in enumerate(row.split()) if name != "-"]
    return tuple(tuple(name for bit, name in named if octet >> bit & 1) for octet in range(256))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def dns_name(raw: bytes) -> str:
    """A name in DNS label form (RFC 1035), or the bytes as text when they are not labels.

    >>> dns_name(bytes.fromhex("08696e7465726e6574")), dns_name(b"internet")
    ('internet', 'internet')
    """
    labels, pos = [], 0
    while pos < len(raw):
        size = raw[pos]
        if size == 0 or pos + 1 + size > len(raw):
            return _text(raw)
        labels.append(_text(raw[pos + 1:pos + 1 + size]))
        pos += 1 + size
    return ".".join(labels)


def ntp_time(seconds: int) -> str:
    """An NTP timestamp (seconds since 1900, wrapping in 2036) in ISO 8601 UTC."""
    if not seconds & 0x8000_0000:
        seconds += NTP_ERA
    return iso_second(seconds - NTP_TO_UNIX)


def tbcd(raw: bytes) -> str:
    """Telephony BCD digits, low nibble first, ``f`` as filler.

    >>> tbcd(bytes.fromhex("214365f7"))
    '1234567'
    """
    digits = []
    for octet in raw:
        digits += [octet & 0x0F, octet >> 4]
    return "".join(f"{d:x}" for d in digits if d != 0xF)


def _code(name: str, names: dict[int, str], mask: int = 0xFF) -> Callable[[bytes], dict]:
    def decode(value: bytes) -> dict[str, Any]:
        code = value[0] & mask
        return {name: code, f"{name}_name": code_name(names, code)}
    return decode


def _number(name: str, layout: struct.Struct, mask: int = -1) -> Callable[[bytes], dict]:
    def decode(value: bytes) -> dict[str, Any]:
        return {name: layout.unpack_from(value)[0] & mask}
    return decode


def _flags(name: str, table: tuple[str, ...]) -> Callable[[bytes], dict]:
    def decode(value: bytes) -> dict[str, Any]:
        if not value:
            raise ValueError("empty flags")
        return {name: flag_names(value, table)}
    return decode


def _named(name: str, convert: Callable[[bytes], Any]) -> Callable[[bytes], dict]:
    return lambda value: {name: convert(value)}


def _timestamp(name: str) -> Callable[[bytes], dict]:
    def decode(value: bytes) -> dict[str, Any]:
        seconds = U32.unpack_from(value)[0]
        return {name: ntp_time(seconds)} if seconds else {}    # 0: no time given
    return decode


def _apply_action(value: bytes) -> dict[str, Any]:
    raw = value[0] | (value[1] << 8 if len(value) > 1 else 0)   # octet 5 is the low byte
    return {"apply_action": raw, "apply_action_names": flag_names(value, APPLY_ACTION_FLAGS)}


def _node_id(value: bytes) -> dict[str, Any]:
    kind = value[0] & 0x0F
    body = value[1:]
    node = dns_name(body) if kind == 2 else _ip(body[:16 if kind == 1 else 4])
    return {"node_id": node, "node_id_type": kind,
            "node_id_type_name": code_name(NODE_ID_TYPE_NAMES, kind)}


def _f_seid(value: bytes) -> dict[str, Any]:
    flags = value[0]
    seid = U64.unpack_from(value, 1)[0]
    ips, _ = _addresses(value, 9, v4=bool(flags & 2), v6=bool(flags & 1))
    return {"f_seid.seid": seid, "f_seid.ip": ips}


def _f_teid(value: bytes) -> dict[str, Any]:
    flags = value[0]
    if flags & 0x04:                      # CH: the user plane is asked to choose the TEID
        return {"f_teid_choose": True}
    teid = U32.unpack_from(value, 1)[0]
    ips, _ = _addresses(value, 5, v4=bool(flags & 1), v6=bool(flags & 2))
    return {"f_teid": teid, "f_teid_ip": ips}


def _ue_ip(value: bytes) -> dict[str, Any]:
    flags = value[0]
    ips, _ = _addresses(value, 1, v4=bool(flags & 2), v6=bool(flags & 1))
    return {"ue_ip": ips} if ips else {}


def _remote_peer(value: bytes) -> dict[str, Any]:
    flags = value[0]
    ips, _ = _addresses(value, 1, v4=bool(flags & 2), v6=bool(flags & 1))
    return {"remote_gtpu_peer": ips}


def _sdf_filter(value: bytes) -> dict[str, Any]:
    if not value[0] & 0x01:               # FD: no flow description in this filter
        return {}
    size = U16.unpack_from(value, 2)[0]
    description = value[4:4 + size]
    if len(description) < size:
        raise ValueError("truncated flow description")
    return {"flow_description": _text(description)}


def _outer_header_creation(value: bytes) -> dict[str, Any]:
    octet5 = value[0]                     # GTP-U, UDP and IP variants; octet 6 adds N19/N6
    fields: dict[str, Any] = {
        "outer_header_creation": U16.unpack_from(value)[0],
        "outer_header_creation_names": flag_names(value[:2], OUTER_HEADER_FLAGS),
    }
    pos = 2
    if octet5 & 0x03:
        fields["outer_header_teid"] = U32.unpack_from(value, pos)[0]
        pos += 4
    ips, pos = _addresses(value, pos, v4=bool(octet5 & 0x15), v6=bool(octet5 & 0x2A))
    fields["outer_header_ip"] = ips
    if octet5 & 0x0C:
        fields["outer_header_port"] = U16.unpack_from(value, pos)[0]
    return fields


def _redirect(value: bytes) -> dict[str, Any]:
    kind = value[0] & 0x0F
    size = U16.unpack_from(value, 1)[0]
    address = value[3:3 + size]
    if len(address) < size:
        raise ValueError("truncated redirect address")
    return {"redirect_address_type": kind,
            "redirect_address_type_name": code_name(REDIRECT_TYPE_NAMES, kind),
            "redirect_address": _text(address)}


def _volume(value: bytes) -> dict[str, Any]:
    flags, pos, fields = value[0], 1, {}
    for bit, name in ((1, "total_volume"), (2, "uplink_volume"), (4, "downlink_volume")):
        if flags & bit:
            fields[name] = U64.unpack_from(value, pos)[0]
            pos += 8
    return fields


USER_IDS = ((0x01, "imsi", tbcd), (0x02, "imei", tbcd), (0x04, "msisdn", tbcd),
            (0x08, "nai", _text), (0x10, "supi", _text), (0x20, "gpsi", _text),
            (0x40, "pei", _text))


def _user_id(value: bytes) -> dict[str, Any]:
    flags, pos, fields = value[0], 1, {}
    for bit, name, convert in USER_IDS:
        if flags & bit:
            size = value[pos]
            fields[f"user_id.{name}"] = convert(value[pos + 1:pos + 1 + size])
            pos += 1 + size
    if pos > len(value):
        raise ValueError("truncated user id")
    return fields


def _offending_ie(value: bytes) -> dict[str, Any]:
    return {"offending_ie": U16.unpack_from(value)[0]}


# IE type → how to read its value (a dict of field names, relative to where the IE sits).
LEAVES: dict[int, Callable[[bytes], dict[str, Any]]] = {
    Ie.CAUSE: _code("cause", CAUSE_NAMES),
    Ie.SOURCE_INTERFACE: _code("source_interface", SOURCE_INTERFACE_NAMES, 0x0F),
    Ie.F_TEID: _f_teid,
    Ie.NETWORK_INSTANCE: _named("network_instance", dns_name),
    Ie.SDF_FILTER: _sdf_filter,
    Ie.APPLICATION_ID: _named("application_id", _text),
    Ie.PRECEDENCE: _number("precedence", U32),
    Ie.REPORTING_TRIGGERS: _flags("reporting_triggers", REPORTING_TRIGGER_FLAGS),
    Ie.REDIRECT_INFORMATION: _redirect,
    Ie.REPORT_TYPE: _flags("report_type", REPORT_TYPE_FLAGS),
    Ie.OFFENDING_IE: _offending_ie,
    Ie.FORWARDING_POLICY: _named("forwarding_policy", lambda v: _text(v[1:1 + v[0]])),
    Ie.DESTINATION_INTERFACE: _code("destination_interface", DESTINATION_INTERFACE_NAMES,
                                    0x0F),
    Ie.UP_FUNCTION_FEATURES: _flags("up_function_features", UP_FEATURE_FLAGS),
    Ie.APPLY_ACTION: _apply_action,
    Ie.PDR_ID: _number("pdr_id", U16),
    Ie.F_SEID: _f_seid,
    Ie.NODE_ID: _node_id,
    Ie.MEASUREMENT_METHOD: _flags("measurement_method", MEASUREMENT_METHOD_FLAGS),
    Ie.USAGE_REPORT_TRIGGER: _flags("usage_report_trigger", USAGE_TRIGGER_FLAGS),
    Ie.VOLUME_MEASUREMENT: _volume,
    Ie.DURATION_MEASUREMENT: _number("duration", U32),
    Ie.START_TIME: _timestamp("start_time"),
    Ie.END_TIME: _timestamp("end_time"),
    Ie.URR_ID: _number("urr_id", U32),
    Ie.OUTER_HEADER_CREATION: _outer_header_creation,
    Ie.BAR_ID: _number("bar_id", U8),
    Ie.CP_FUNCTION_FEATURES: _flags("cp_function_features", CP_FEATURE_FLAGS),
    Ie.UE_IP_ADDRESS: _ue_ip,
    Ie.OUTER_HEADER_REMOVAL: _code("outer_header_removal", HEADER_REMOVAL_NAMES),
    Ie.RECOVERY_TIME_STAMP: _timestamp("recovery_time_stamp"),
    Ie.NODE_REPORT_TYPE: _flags("node_report_type", NODE_REPORT_FLAGS),
    Ie.REMOTE_GTPU_PEER: _remote_peer,
    Ie.UR_SEQN: _number("ur_seqn", U32),
    Ie.FAR_ID: _number("far_id", U32),
    Ie.QER_ID: _number("qer_id", U32),
    Ie.PDN_TYPE: _code("pdn_type", PDN_TYPE_NAMES, 0x07),
    Ie.QFI: _number("qfi", U8, 0x3F),
    Ie.USER_ID: _user_id,
    Ie.APN_DNN: _named("apn_dnn", dns_name),
}

PDR_DETAIL = frozenset({Ie.PDR_ID, Ie.PRECEDENCE, Ie.FAR_ID, Ie.URR_ID, Ie.QER_ID,
                        Ie.OUTER_HEADER_REMOVAL})
FAR_DETAIL = frozenset({Ie.FAR_ID, Ie.APPLY_ACTION, Ie.BAR_ID})
URR_DETAIL = frozenset({Ie.URR_ID, Ie.MEASUREMENT_METHOD, Ie.REPORTING_TRIGGERS})
QER_DETAIL = frozenset({Ie.QER_ID, Ie.QFI})
PDI_DETAIL = frozenset({Ie.SOURCE_INTERFACE, Ie.F_TEID, Ie.NETWORK_INSTANCE, Ie.UE_IP_ADDRESS,
                        Ie.SDF_FILTER, Ie.APPLICATION_ID, Ie.QFI})
OUTER = frozenset({Ie.DESTINATION_INTERFACE, Ie.NETWORK_INSTANCE, Ie.OUTER_HEADER_CREATION,
                   Ie.REDIRECT_INFORMATION, Ie.FORWARDING_POLICY})
USAGE = frozenset({Ie.URR_ID, Ie.UR_SEQN, Ie.USAGE_REPORT_TRIGGER, Ie.VOLUME_MEASUREMENT,
                   Ie.DURATION_MEASUREMENT, Ie.START_TIME, Ie.END_TIME})

# Grouped IE type → (field group, the IE types kept inside it). Other grouped IEs are not opened.
GROUPS: dict[int, tuple[str, frozenset[int]]] = {
    Ie.CREATE_PDR: ("create_pdr", PDR_DETAIL), Ie.UPDATE_PDR: ("update_pdr", PDR_DETAIL),
    Ie.REMOVE_PDR: ("remove_pdr", frozenset({Ie.PDR_ID})),
    Ie.CREATED_PDR: ("created_pdr", frozenset({Ie.PDR_ID, Ie.F_TEID, Ie.UE_IP_ADDRESS})),
    Ie.PDI: ("pdi", PDI_DETAIL),
    Ie.CREATE_FAR: ("create_far", FAR_DETAIL), Ie.UPDATE_FAR: ("update_far", FAR_DETAIL),
    Ie.REMOVE_FAR: ("remove_far", frozenset({Ie.FAR_ID})),
    Ie.FORWARDING_PARAMETERS: ("forwarding", OUTER),
    Ie.UPDATE_FORWARDING_PARAMETERS: ("forwarding", OUTER),
    Ie.DUPLICATING_PARAMETERS: ("duplicating", OUTER),
    Ie.UPDATE_DUPLICATING_PARAMETERS: ("duplicating", OUTER),
    Ie.CREATE_URR: ("create_urr", URR_DETAIL), Ie.UPDATE_URR: ("update_urr", URR_DETAIL),
    Ie.REMOVE_URR: ("remove_urr", frozenset({Ie.URR_ID})),
    Ie.CREATE_QER: ("create_qer", QER_DETAIL), Ie.UPDATE_QER: ("update_qer", QER_DETAIL),
    Ie.REMOVE_QER: ("remove_qer", frozenset({Ie.QER_ID})),
    Ie.CREATE_BAR: ("create_bar", frozenset({Ie.BAR_ID})),
    Ie.UPDATE_BAR: ("update_bar", frozenset({Ie.BAR_ID})),
    Ie.UPDATE_BAR_REPORT_RESPONSE: ("update_bar", frozenset({Ie.BAR_ID})),
    Ie.REMOVE_BAR: ("remove_bar", frozenset({Ie.BAR_ID})),
    Ie.USAGE_REPORT_MODIFICATION: ("usage_report", USAGE),
    Ie.USAGE_REPORT_DELETION: ("usage_report", USAGE),
    Ie.USAGE_REPORT_REPORT: ("usage_report", USAGE),
    Ie.DOWNLINK_DATA_REPORT: ("downlink_data_report", frozenset({Ie.PDR_ID})),
    Ie.ERROR_INDICATION_REPORT: ("error_indication_report", frozenset({Ie.F_TEID})),
    Ie.USER_PLANE_PATH_FAILURE_REPORT: ("user_plane_path_failure_report",
                                        frozenset({Ie.REMOTE_GTPU_PEER})),
}
# IEs read at message level (each kept once).
MESSAGE_LEAVES = frozenset({
    Ie.CAUSE, Ie.OFFENDING_IE, Ie.NODE_ID, Ie.RECOVERY_TIME_STAMP, Ie.UP_FUNCTION_FEATURES,
    Ie.CP_FUNCTION_FEATURES, Ie.F_SEID, Ie.REPORT_TYPE, Ie.NODE_REPORT_TYPE, Ie.PDN_TYPE,
    Ie.USER_ID, Ie.APN_DNN,
})


class _Decoder:
    """Walks a message's IEs into dotted field names; collects anomalies instead of raising."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.anomalies: list[str] = []

    def walk(self, body: bytes, group: tuple[str, frozenset[int]] | None, depth: int) -> None:
        # Every IE of every message passes this loop: the IE types kept here are chosen once
        # per walk, and only the IEs that are read are sliced out of the body.
        kept = MESSAGE_LEAVES if group is None else group[1]
        pos, end, header, unpack = 0, len(body), IE_HEADER.size, IE_HEADER.unpack_from
        while pos + header <= end:
            ie_type, size = unpack(body, pos)
            start = pos + header
            pos = start + size
            if pos > end:
                self._flag(Anomaly.IE_OVERRUN)
                return
            if ie_type in GROUPS:
                self._open(ie_type, body[start:pos], depth)
            elif ie_type in kept:
                if group is None:
                    self._leaf(ie_type, body[start:pos])
                else:
                    self._grouped_leaf(ie_type, body[start:pos], group[0])
        if pos != end:
            self._flag(Anomaly.IE_OVERRUN)

    def _open(self, ie_type: int, value: bytes, depth: int) -> None:
        if depth >= MAX_GROUP_DEPTH:
            self._flag(Anomaly.NESTING_TOO_DEEP)
        else:
            self.walk(value, GROUPS[ie_type], depth + 1)

    def _leaf(self, ie_type: int, value: bytes) -> None:
        """A message-level IE: its fields are kept once (the first occurrence wins)."""
        decoded = self._decode(ie_type, value)
        for name, found in decoded.items():
            self.fields.setdefault(name, found)

    def _grouped_leaf(self, ie_type: int, value: bytes, group_name: str) -> None:
        """An IE inside a grouped IE: its fields gather into arrays under the group."""
        decoded = self._decode(ie_type, value)
        fields = self.fields
        for name, found in decoded.items():
            key = f"{group_name}.{name}"
            values = fields.get(key)
            if values is None:
                values = fields[key] = []
            if type(found) is list:
                values.extend(found)
            else:
                values.append(found)

    def _decode(self, ie_type: int, value: bytes) -> dict[str, Any]:
        try:
            return LEAVES[ie_type](value)
        except (IndexError, ValueError, struct.error):
            self._flag(Anomaly.IE_TOO_SHORT)
            return {}

    def _flag(self, anomaly: Anomaly) -> None:
        if anomaly not in self.anomalies:
            self.anomalies.append(anomaly)


# ---------------------------------------------------------------- header


def probe(payload: bytes) -> bool | None:
    """Version 1, a known message type and a length that fits the datagram."""
    if len(payload) < HEADER.size:
        return None
    flags, message_type, length = HEADER.unpack_from(payload)
    minimum = SESSION_HEADER_LEN if flags & 1 else NODE_HEADER_LEN
    return (flags >> 5 == VERSION and message_type in MESSAGE_NAMES
            and minimum <= HEADER.size + length <= len(payload))


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < HEADER.size:
        return NeedMore(HEADER.size)
    flags, message_type, length = HEADER.unpack_from(buf)
    if flags >> 5 != VERSION:
        return Malformed(Anomaly.BAD_VERSION)
    has_seid = bool(flags & 1)
    header_len = SESSION_HEADER_LEN if has_seid else NODE_HEADER_LEN
    total = HEADER.size + length
    if total < header_len:
        return Malformed(Anomaly.BAD_LENGTH)
    if len(buf) < total:
        return NeedMore(total)
    return Parsed(_message(buf[:total], flags, message_type, header_len, to_server), total)


def _message(raw: bytes, flags: int, message_type: int, header_len: int,
             to_server: bool) -> PfcpPdu:
    seid = U64.unpack_from(raw, 4)[0] if header_len == SESSION_HEADER_LEN else None
    sequence = U32.unpack_from(raw, header_len - 4)[0] >> 8
    priority = raw[header_len - 1] >> 4 if flags & 2 else None
    decoder = _Decoder()
    if (seid is not None) != (message_type in SESSION_MESSAGES):
        decoder.anomalies.append(Anomaly.SEID_FLAG_MISMATCH)
    decoder.walk(raw[header_len:], None, 0)
    return PfcpPdu(flags >> 5, message_type, len(raw) - HEADER.size, sequence,
                   bool(flags & 4), to_server, seid, priority, decoder.fields,
                   tuple(decoder.anomalies))


# ---------------------------------------------------------------- flow state and events


@dataclass(slots=True)
class FlowState:
    """One node pair's association and its requests awaiting a response."""

    association: str = "none"           # none | established | released
    # (sent to the server, sequence) → message type; each side numbers its own requests
    pending: OrderedDict[tuple[bool, int], int] = field(default_factory=OrderedDict)

    def track(self, pdu: PfcpPdu, fields: dict[str, Any]) -> list[Anomaly]:
        """Update the state with ``pdu``; note what it says about ``pdu`` in ``fields``."""
        anomalies = self._remember(pdu, fields) if pdu.is_request else []
        if not pdu.is_request:
            self._pair(pdu, fields)
        self._follow_association(pdu)
        fields["association"] = self.association
        if pdu.message_type in NEEDS_ASSOCIATION:
            fields["without_association"] = self.association != "established"
        return anomalies

    def _remember(self, request: PfcpPdu, fields: dict[str, Any]) -> list[Anomaly]:
        key = (request.to_server, request.sequence)
        if self.pending.get(key) == request.message_type:
            fields["retransmission"] = True
        self.pending[key] = request.message_type
        self.pending.move_to_end(key)
        if len(self.pending) <= MAX_PENDING:
            return []
        self.pending.popitem(last=False)
        return [Anomaly.FLOODED]

    def _pair(self, response: PfcpPdu, fields: dict[str, Any]) -> None:
        request = self.pending.pop((not response.to_server, response.sequence), None)
        if request is not None:
            fields["request_message_type"] = request
            fields["request_message_type_name"] = code_name(MESSAGE_NAMES, request)

    def _follow_association(self, pdu: PfcpPdu) -> None:
        accepted = pdu.fields.get("cause") == ACCEPTED
        if pdu.message_type == 6 and accepted:
            self.association = "established"
        elif pdu.message_type == 10 and accepted:
            self.association = "released"


def nest(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` → ``{"a": {"b": 1}}``."""
    root: dict[str, Any] = {}
    for name, value in dotted.items():
        if "." not in name:
            root[name] = value
            continue
        node = root
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return root


def _header_fields(pdu: PfcpPdu) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "version": pdu.version,
        "message_type": pdu.message_type,
        "message_type_name": code_name(MESSAGE_NAMES, pdu.message_type),
        "is_request": pdu.is_request,
        "length": pdu.length,
        "sequence": pdu.sequence,
        "follow_on": pdu.follow_on,
    }
    if pdu.seid is not None:
        fields["seid"] = pdu.seid
    if pdu.priority is not None:
        fields["priority"] = pdu.priority
    return fields


def to_event(pdu: PfcpPdu, state: FlowState | None) -> list[dict[str, Any]]:
    fields = _header_fields(pdu) | pdu.fields
    anomalies: list[str] = list(pdu.anomalies)
    if state is not None:
        anomalies += state.track(pdu, fields)
    if anomalies:
        fields["anomalies"] = [str(anomaly) for anomaly in anomalies]
    events = [{"network": {"protocol": "pfcp"}, "pfcp": nest(fields)}]
    for anomaly in anomalies:
        events.append({"event": {"dataset": "weird"}, "network": {"protocol": "pfcp"},
                       "weird": {"name": str(anomaly), "analyzer": "pfcp"}})
    return events


ANALYZER = AnalyzerSpec(
    name="pfcp", transport="udp", ports=(8805,), probe=probe, parse=parse_pdu,
    to_event=to_event, new_state=FlowState,
)
