"""Diameter (RFC 6733) over TCP and SCTP, with the 3GPP applications of the EPC and IMS.

One event per message. The header gives the command, the application and the hop-by-hop and
end-to-end ids; AVPs (grouped ones decoded recursively, to a bounded depth) give the peers, the
result, the subscriber and the session. Answers are paired with their request by hop-by-hop id.

>>> msg = bytes.fromhex("01 000020 80 000118 00000000 00000001 00000002"   # DWR
...                     "00000108 40 00000a 6868"  "0000")                 # Origin-Host "hh"
>>> result = parse_pdu(msg, to_server=True)
>>> fields = to_event(result.pdu, new_state())["diameter"]
>>> fields["command_name"], fields["is_request"], fields["origin_host"]
('DWR', True, 'hh')
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from sensor.analyzers.base import (
    AnalyzerSpec,
    Fields,
    Malformed,
    NeedMore,
    Parsed,
    ParseResult,
    code_name,
)

HEADER_LEN = 20
MAX_LENGTH = 1 << 18
MAX_DEPTH = 4                   # grouped AVPs inside grouped AVPs
MAX_AVPS = 1024                 # AVPs decoded per message
MAX_PENDING = 1024              # requests awaiting their answer, per flow
DIAMETER_PORT = 3868
PPIDS = (46, 0)                 # Diameter (RFC 6733), and unspecified
FLAG_REQUEST, FLAG_PROXIABLE, FLAG_ERROR, FLAG_RETRANSMIT = 0x80, 0x40, 0x20, 0x10
AVP_VENDOR_FLAG = 0x80
VENDOR_3GPP = 10415

COMMANDS = {  # code: (request, answer)
    257: ("CER", "CEA"), 258: ("RAR", "RAA"), 265: ("AAR", "AAA"), 268: ("DER", "DEA"),
    271: ("ACR", "ACA"), 272: ("CCR", "CCA"), 274: ("ASR", "ASA"), 275: ("STR", "STA"),
    280: ("DWR", "DWA"), 282: ("DPR", "DPA"), 300: ("UAR", "UAA"), 301: ("SAR", "SAA"),
    302: ("LIR", "LIA"), 303: ("MAR", "MAA"), 304: ("RTR", "RTA"), 305: ("PPR", "PPA"),
    306: ("UDR", "UDA"), 307: ("PUR", "PUA"), 308: ("SNR", "SNA"), 309: ("PNR", "PNA"),
    316: ("ULR", "ULA"), 317: ("CLR", "CLA"), 318: ("AIR", "AIA"), 319: ("IDR", "IDA"),
    320: ("DSR", "DSA"), 321: ("PUR", "PUA"), 322: ("RSR", "RSA"), 323: ("NOR", "NOA"),
    324: ("ECR", "ECA"), 8388620: ("PLR", "PLA"), 8388622: ("LRR", "LRA"),
}
APPLICATIONS = {
    0: "base", 1: "nasreq", 3: "base_accounting", 4: "credit_control", 5: "eap",
    16777216: "cx", 16777217: "sh", 16777236: "rx", 16777238: "gx", 16777251: "s6a",
    16777252: "s13", 16777255: "slg", 16777264: "swm", 16777265: "swx", 16777266: "gxx",
    16777267: "s9", 16777272: "s6b", 16777291: "slh", 16777308: "s6t", 16777312: "s6c",
    16777313: "sgd", 4294967295: "relay",
}
RESULT_NAMES = {
    1001: "multi_round_auth", 2001: "success", 2002: "limited_success",
    3001: "command_unsupported", 3002: "unable_to_deliver", 3003: "realm_not_served",
    3004: "too_busy", 3005: "loop_detected", 3006: "redirect_indication",
    3007: "application_unsupported", 3008: "invalid_hdr_bits", 3009: "invalid_avp_bits",
    3010: "unknown_peer", 4001: "authentication_rejected", 4002: "out_of_space",
    4003: "election_lost", 4010: "end_user_service_denied", 4012: "credit_limit_reached",
    5001: "avp_unsupported", 5002: "unknown_session_id", 5003: "authorization_rejected",
    5004: "invalid_avp_value", 5005: "missing_avp", 5006: "resources_exceeded",
    5007: "contradicting_avps", 5008: "avp_not_allowed", 5009: "avp_occurs_too_many_times",
    5010: "no_common_application", 5011: "unsupported_version", 5012: "unable_to_comply",
    5013: "invalid_bit_in_header", 5014: "invalid_avp_length", 5015: "invalid_message_length",
    5016: "invalid_avp_bit_combo", 5017: "no_common_security", 5030: "user_unknown",
}
EXPERIMENTAL_RESULT_NAMES = {  # 3GPP TS 29.272, 29.229, 29.329, 29.212
    2001: "first_registration", 2002: "subsequent_registration", 2003: "unregistered_service",
    2004: "success_server_name_not_stored", 4100: "user_data_not_available",
    4101: "prior_update_in_progress", 4181: "authentication_data_unavailable",
    4182: "error_camel_subscription_present", 5001: "error_user_unknown",
    5002: "error_identities_dont_match", 5003: "error_identity_not_registered",
    5004: "error_roaming_not_allowed", 5005: "error_identity_already_registered",
    5006: "error_auth_scheme_not_supported", 5420: "error_unknown_eps_subscription",
    5421: "error_rat_not_allowed", 5422: "error_equipment_unknown",
    5423: "error_unknown_serving_node",
}
RAT_TYPES = {
    0: "wlan", 1: "virtual", 2: "trusted_n3ga", 3: "wireline", 1000: "utran", 1001: "geran",
    1002: "gan", 1003: "hspa_evolution", 1004: "eutran", 1005: "eutran_nb_iot", 1006: "nr",
    1007: "lte_m", 2000: "cdma2000_1x", 2001: "hrpd", 2002: "umb", 2003: "ehrpd",
}
CC_REQUEST_TYPES = {1: "initial_request", 2: "update_request", 3: "termination_request",
                    4: "event_request"}
SUBSCRIPTION_ID_TYPES = {0: "e164", 1: "imsi", 2: "sip_uri", 3: "nai", 4: "private"}

# (code, vendor) of the AVPs read into events: field name and how to read the data
TEXT_AVPS = {(263, 0): "session_id", (264, 0): "origin_host", (296, 0): "origin_realm",
             (293, 0): "destination_host", (283, 0): "destination_realm", (1, 0): "user_name",
             (269, 0): "product_name", (281, 0): "error_message"}
NUMBER_AVPS = {(268, 0): "result_code", (258, 0): "auth_application_id",
               (259, 0): "acct_application_id", (416, 0): "cc_request_type",
               (415, 0): "cc_request_number", (1032, VENDOR_3GPP): "rat_type",
               (273, 0): "disconnect_cause", (278, 0): "origin_state_id"}
GROUPED = frozenset({
    (260, 0), (279, 0), (284, 0), (297, 0), (443, 0), (456, 0), (431, 0), (437, 0), (446, 0),
    (458, 0), (873, VENDOR_3GPP), (874, VENDOR_3GPP), (628, VENDOR_3GPP),
    (1400, VENDOR_3GPP), (1401, VENDOR_3GPP), (1408, VENDOR_3GPP), (1413, VENDOR_3GPP),
    (1414, VENDOR_3GPP), (1016, VENDOR_3GPP), (1001, VENDOR_3GPP), (1003, VENDOR_3GPP),
    (1049, VENDOR_3GPP), (1034, VENDOR_3GPP), (1066, VENDOR_3GPP),
})
EXPERIMENTAL_RESULT, VENDOR_ID, EXPERIMENTAL_RESULT_CODE = 297, 266, 298
VENDOR_SPECIFIC_APPLICATION_ID = 260
SUBSCRIPTION_ID, SUBSCRIPTION_ID_TYPE, SUBSCRIPTION_ID_DATA = 443, 450, 444
VISITED_PLMN_ID = (1407, VENDOR_3GPP)


class Anomaly(StrEnum):
    BAD_VERSION = "diameter_bad_version"
    BAD_LENGTH = "diameter_bad_length"
    BAD_AVP_LENGTH = "diameter_bad_avp_length"
    TOO_MANY_AVPS = "diameter_too_many_avps"


@dataclass(frozen=True, slots=True)
class Avp:
    code: int
    flags: int
    vendor: int
    data: bytes
    children: tuple[Avp, ...] = ()


@dataclass(frozen=True, slots=True)
class DiameterPdu:
    length: int
    flags: int
    command_code: int
    application_id: int
    hop_by_hop_id: int
    end_to_end_id: int
    avps: tuple[Avp, ...]
    anomalies: tuple[str, ...] = ()

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)


# --- parsing ---------------------------------------------------------------------------------


def probe(payload: bytes) -> bool | None:
    """Version 1, a sane length and no reserved flag set."""
    if not payload:
        return None
    if payload[0] != 1:
        return False
    if len(payload) < HEADER_LEN:
        return None
    length = int.from_bytes(payload[1:4], "big")
    return HEADER_LEN <= length <= MAX_LENGTH and length % 4 == 0 and not payload[4] & 0x0F


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < HEADER_LEN:
        return NeedMore(HEADER_LEN)
    if buf[0] != 1:
        return Malformed(Anomaly.BAD_VERSION)
    length = int.from_bytes(buf[1:4], "big")
    if not HEADER_LEN <= length <= MAX_LENGTH or length % 4:
        return Malformed(Anomaly.BAD_LENGTH)
    if len(buf) < length:
        return NeedMore(length)
    anomalies: list[str] = []
    avps = _parse_avps(buf[HEADER_LEN:length], 0, anomalies, [0])
    pdu = DiameterPdu(length, buf[4], int.from_bytes(buf[5:8], "big"), _u32(buf, 8),
                      _u32(buf, 12), _u32(buf, 16), avps, tuple(dict.fromkeys(anomalies)))
    return Parsed(pdu, length)


def _u32(buf: bytes, offset: int) -> int:
    return int.from_bytes(buf[offset:offset + 4], "big")


def _parse_avps(data: bytes, depth: int, anomalies: list[str], count: list[int]
                ) -> tuple[Avp, ...]:
    """The AVPs of ``data``; a bad length ends the list with an anomaly, not an error."""
    avps, offset = [], 0
    while offset < len(data):
        if count[0] >= MAX_AVPS:
            anomalies.append(Anomaly.TOO_MANY_AVPS)
            break
        avp, offset = _parse_avp(data, offset, depth, anomalies, count)
        if avp is None:
            anomalies.append(Anomaly.BAD_AVP_LENGTH)
            break
        avps.append(avp)
    return tuple(avps)


def _parse_avp(data: bytes, offset: int, depth: int, anomalies: list[str], count: list[int]
               ) -> tuple[Avp | None, int]:
    if len(data) - offset < 8:
        return None, len(data)
    code, flags = _u32(data, offset), data[offset + 4]
    length = int.from_bytes(data[offset + 5:offset + 8], "big")
    header = 12 if flags & AVP_VENDOR_FLAG else 8
    if length < header or offset + length > len(data):
        return None, len(data)
    vendor = _u32(data, offset + 8) if header == 12 else 0
    value = data[offset + header:offset + length]
    count[0] += 1
    children: tuple[Avp, ...] = ()
    if (code, vendor) in GROUPED and depth < MAX_DEPTH:
        children = _parse_avps(value, depth + 1, anomalies, count)
    return Avp(code, flags, vendor, value, children), offset + (length + 3) // 4 * 4


# --- per-flow state and events ---------------------------------------------------------------


@dataclass(slots=True)
class DiameterState:
    """Requests awaiting their answer, by hop-by-hop id (oldest dropped first)."""

    pending: OrderedDict[int, tuple[int, str | None]] = field(default_factory=OrderedDict)

    def remember(self, pdu: DiameterPdu, user_name: str | None) -> None:
        self.pending[pdu.hop_by_hop_id] = (pdu.command_code, user_name)
        self.pending.move_to_end(pdu.hop_by_hop_id)
        if len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)

    def answer(self, pdu: DiameterPdu) -> tuple[int, str | None] | None:
        return self.pending.pop(pdu.hop_by_hop_id, None)


def new_state() -> DiameterState:
    return DiameterState()


def to_event(pdu: DiameterPdu, state: DiameterState | None) -> Fields:
    fields = _header_fields(pdu)
    _add_avp_fields(fields, pdu.avps)
    if pdu.anomalies:
        fields["anomalies"] = list(pdu.anomalies)
    if state is not None:
        _pair(fields, pdu, state)
    return {"network": {"protocol": "diameter"}, "diameter": fields}


def _header_fields(pdu: DiameterPdu) -> dict[str, Any]:
    names = COMMANDS.get(pdu.command_code)
    name = names[not pdu.is_request] if names else f"unknown-{pdu.command_code}"
    return {
        "version": 1, "length": pdu.length, "command_code": pdu.command_code,
        "command_name": name, "application_id": pdu.application_id,
        "application_name": code_name(APPLICATIONS, pdu.application_id),
        "is_request": pdu.is_request, "is_proxiable": bool(pdu.flags & FLAG_PROXIABLE),
        "is_error": bool(pdu.flags & FLAG_ERROR),
        "is_retransmit": bool(pdu.flags & FLAG_RETRANSMIT),
        "hop_by_hop_id": pdu.hop_by_hop_id, "end_to_end_id": pdu.end_to_end_id,
    }


def _add_avp_fields(fields: dict[str, Any], avps: tuple[Avp, ...]) -> None:
    fields["avp_codes"] = [avp.code for avp in avps]
    for avp in avps:
        key = (avp.code, avp.vendor)
        if key in TEXT_AVPS:
            fields.setdefault(TEXT_AVPS[key], avp.data.decode("utf-8", "replace"))
        elif key in NUMBER_AVPS and len(avp.data) == 4:
            fields.setdefault(NUMBER_AVPS[key], _u32(avp.data, 0))
        elif key == VISITED_PLMN_ID:
            _put(fields, "visited_plmn_id", _plmn(avp.data))
        elif avp.code == EXPERIMENTAL_RESULT and not avp.vendor:
            _add_experimental_result(fields, avp.children)
        elif avp.code == VENDOR_SPECIFIC_APPLICATION_ID and not avp.vendor:
            _add_application_ids(fields, avp.children)
        elif avp.code == SUBSCRIPTION_ID and not avp.vendor:
            _add_subscription_id(fields, avp.children)
    _add_names(fields)


def _add_names(fields: dict[str, Any]) -> None:
    for number, name, table in (("result_code", "result_name", RESULT_NAMES),
                                ("rat_type", "rat_type_name", RAT_TYPES),
                                ("cc_request_type", "cc_request_type_name", CC_REQUEST_TYPES),
                                ("experimental_result_code", "experimental_result_name",
                                 EXPERIMENTAL_RESULT_NAMES)):
        if number in fields:
            fields[name] = code_name(table, fields[number])


def _add_experimental_result(fields: dict[str, Any], children: tuple[Avp, ...]) -> None:
    for child in children:
        if child.code == VENDOR_ID and len(child.data) == 4:
            fields.setdefault("experimental_result_vendor", _u32(child.data, 0))
        elif child.code == EXPERIMENTAL_RESULT_CODE and len(child.data) == 4:
            fields.setdefault("experimental_result_code", _u32(child.data, 0))


def _add_application_ids(fields: dict[str, Any], children: tuple[Avp, ...]) -> None:
    for child in children:
        key = (child.code, child.vendor)
        if key in ((258, 0), (259, 0)) and len(child.data) == 4:
            fields.setdefault(NUMBER_AVPS[key], _u32(child.data, 0))


def _add_subscription_id(fields: dict[str, Any], children: tuple[Avp, ...]) -> None:
    kind = next((_u32(c.data, 0) for c in children
                 if c.code == SUBSCRIPTION_ID_TYPE and len(c.data) == 4), None)
    data = next((c.data for c in children if c.code == SUBSCRIPTION_ID_DATA), None)
    if data is not None and "subscription_id" not in fields:
        fields["subscription_id"] = data.decode("utf-8", "replace")
        if kind is not None:
            fields["subscription_id_type"] = code_name(SUBSCRIPTION_ID_TYPES, kind)


def _plmn(data: bytes) -> str | None:
    """MCC and MNC digits of a 3-octet BCD PLMN id (TS 24.008 §10.5.1.13): ``00101``."""
    if len(data) != 3:
        return None
    nibbles = [data[0] & 0xF, data[0] >> 4, data[1] & 0xF, data[2] & 0xF, data[2] >> 4,
               data[1] >> 4]
    if nibbles[5] == 0xF:
        nibbles.pop()
    return "".join(map(str, nibbles)) if all(n <= 9 for n in nibbles) else None


def _put(fields: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        fields.setdefault(key, value)


def _pair(fields: dict[str, Any], pdu: DiameterPdu, state: DiameterState) -> None:
    """Remember a request; give its answer the request's command and, when the answer has
    none, its User-Name."""
    if pdu.is_request:
        state.remember(pdu, fields.get("user_name"))
        return
    request = state.answer(pdu)
    if request is None:
        return
    code, user_name = request
    names = COMMANDS.get(code)
    fields["request_command_name"] = names[0] if names else f"unknown-{code}"
    if user_name is not None:
        fields.setdefault("user_name", user_name)


def _spec(transport: Literal["tcp", "sctp"], ppids: tuple[int, ...]) -> AnalyzerSpec:
    return AnalyzerSpec(name="diameter", transport=transport, ports=(DIAMETER_PORT,),
                        probe=probe, parse=parse_pdu, to_event=to_event, max_pdu=MAX_LENGTH,
                        ppids=ppids, new_state=new_state)


TCP_ANALYZER = _spec("tcp", ())
SCTP_ANALYZER = _spec("sctp", PPIDS)
ANALYZERS = (TCP_ANALYZER, SCTP_ANALYZER)
