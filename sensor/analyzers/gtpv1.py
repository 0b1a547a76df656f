"""GTPv1-C (3GPP TS 29.060): the GPRS/UMTS control plane on UDP 2123, requests and responses.

The common information elements are decoded (IMSI, MSISDN, IMEI(SV), cause, TEIDs, NSAPI, APN,
end user address, GSN addresses, RAT type, recovery); every element's type is listed, so rules
can see the rest. GTPv0 (TS 09.60) and GTP' (protocol type 0) are left alone by the probe.

>>> raw = bytes.fromhex("32 10 000f 00000000 0001 00 00  02 21436587092143f5  0e 07")
>>> fields = to_event(parse_pdu(raw, to_server=True).pdu, None)["gtpv1"]
>>> fields["message_name"], fields["imsi"], fields["recovery"]
('create_pdp_context_request', '123456789012345', 7)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, Parsed, ParseResult, code_name
from sensor.analyzers.gtpu import InfoElements, V1Header, header_fields, ip_text, parse_v1_header
from sensor.analyzers.gtpu import split_ies as split_v1_ies

MESSAGE_NAMES = {
    1: "echo_request", 2: "echo_response", 3: "version_not_supported",
    4: "node_alive_request", 5: "node_alive_response", 6: "redirection_request",
    7: "redirection_response", 16: "create_pdp_context_request",
    17: "create_pdp_context_response", 18: "update_pdp_context_request",
    19: "update_pdp_context_response", 20: "delete_pdp_context_request",
    21: "delete_pdp_context_response", 22: "initiate_pdp_context_activation_request",
    23: "initiate_pdp_context_activation_response", 26: "error_indication",
    27: "pdu_notification_request", 28: "pdu_notification_response",
    29: "pdu_notification_reject_request", 30: "pdu_notification_reject_response",
    31: "supported_extension_headers_notification",
    32: "send_routeing_information_for_gprs_request",
    33: "send_routeing_information_for_gprs_response", 34: "failure_report_request",
    35: "failure_report_response", 36: "note_ms_gprs_present_request",
    37: "note_ms_gprs_present_response", 48: "identification_request",
    49: "identification_response", 50: "sgsn_context_request", 51: "sgsn_context_response",
    52: "sgsn_context_acknowledge", 53: "forward_relocation_request",
    54: "forward_relocation_response", 55: "forward_relocation_complete",
    56: "relocation_cancel_request", 57: "relocation_cancel_response",
    58: "forward_srns_context", 59: "forward_relocation_complete_acknowledge",
    60: "forward_srns_context_acknowledge", 61: "ue_registration_query_request",
    62: "ue_registration_query_response", 70: "ran_information_relay",
    96: "mbms_notification_request", 97: "mbms_notification_response",
    98: "mbms_notification_reject_request", 99: "mbms_notification_reject_response",
    100: "create_mbms_context_request", 101: "create_mbms_context_response",
    102: "update_mbms_context_request", 103: "update_mbms_context_response",
    104: "delete_mbms_context_request", 105: "delete_mbms_context_response",
    112: "mbms_registration_request", 113: "mbms_registration_response",
    114: "mbms_deregistration_request", 115: "mbms_deregistration_response",
    116: "mbms_session_start_request", 117: "mbms_session_start_response",
    118: "mbms_session_stop_request", 119: "mbms_session_stop_response",
    120: "mbms_session_update_request", 121: "mbms_session_update_response",
    128: "ms_info_change_notification_request", 129: "ms_info_change_notification_response",
    240: "data_record_transfer_request", 241: "data_record_transfer_response",
    254: "end_marker", 255: "g_pdu",
}
CAUSE_NAMES = {
    0: "request_imsi", 1: "request_imei", 2: "request_imsi_and_imei", 3: "no_identity_needed",
    4: "ms_refuses", 5: "ms_is_not_gprs_responding", 6: "reactivation_requested",
    7: "pdp_address_inactivity_timer_expires", 8: "network_failure",
    9: "qos_parameter_mismatch", 128: "request_accepted",
    129: "new_pdp_type_due_to_network_preference",
    130: "new_pdp_type_due_to_single_address_bearer_only", 192: "non_existent",
    193: "invalid_message_format", 194: "imsi_imei_not_known", 195: "ms_is_gprs_detached",
    196: "ms_is_not_gprs_responding", 197: "ms_refuses", 198: "version_not_supported",
    199: "no_resources_available", 200: "service_not_supported",
    201: "mandatory_ie_incorrect", 202: "mandatory_ie_missing", 203: "optional_ie_incorrect",
    204: "system_failure", 205: "roaming_restriction", 206: "p_tmsi_signature_mismatch",
    207: "gprs_connection_suspended", 208: "authentication_failure",
    209: "user_authentication_failed", 210: "context_not_found",
    211: "all_dynamic_pdp_addresses_are_occupied", 212: "no_memory_is_available",
    213: "relocation_failure", 214: "unknown_mandatory_extension_header",
    215: "semantic_error_in_the_tft_operation", 216: "syntactic_error_in_the_tft_operation",
    217: "semantic_errors_in_packet_filters", 218: "syntactic_errors_in_packet_filters",
    219: "missing_or_unknown_apn", 220: "unknown_pdp_address_or_pdp_type",
    221: "pdp_context_without_tft_already_activated",
    222: "apn_access_denied_no_subscription",
    223: "apn_restriction_type_incompatible_with_active_pdp_contexts",
    224: "ms_mbms_capabilities_insufficient", 225: "invalid_correlation_id",
    226: "mbms_bearer_context_superseded", 227: "bearer_control_mode_violation",
    228: "collision_with_network_initiated_request", 229: "apn_congestion",
    230: "bearer_handling_not_supported", 231: "target_access_restricted_for_the_subscriber",
    232: "ue_is_temporarily_not_reachable_due_to_power_saving",
    233: "relocation_failure_due_to_nas_message_redirection",
}
RAT_TYPE_NAMES = {1: "utran", 2: "geran", 3: "wlan", 4: "gan", 5: "hspa_evolution", 6: "eutran"}
PDP_TYPE_NAMES = {(0, 1): "ppp", (0, 2): "non_ip", (1, 0x21): "ipv4", (1, 0x57): "ipv6",
                  (1, 0x8D): "ipv4v6"}
TBCD_DIGITS = "0123456789*#abc"


def tbcd_digits(raw: bytes) -> str:
    """Telephony BCD (two digits an octet, low nibble first, 0xF fills) as a digit string.

    >>> tbcd_digits(bytes.fromhex("2143f5"))
    '12345'
    """
    digits = []
    for byte in raw:
        for nibble in (byte & 0x0F, byte >> 4):
            if nibble == 0x0F:
                return "".join(digits)
            digits.append(TBCD_DIGITS[nibble])
    return "".join(digits)


def apn_text(raw: bytes) -> str:
    """An access point name from its length-prefixed labels (RFC 1035 style) as dotted text."""
    labels, offset = [], 0
    while offset < len(raw):
        size = raw[offset]
        labels.append(raw[offset + 1:offset + 1 + size].decode("ascii", "replace"))
        offset += 1 + size
    return ".".join(labels)


@dataclass(frozen=True, slots=True)
class Gtpv1Pdu:
    header: V1Header
    ies: InfoElements
    anomalies: tuple[str, ...] = ()


def probe(payload: bytes) -> bool | None:
    """GTP version 1, protocol type GTP, and a GTPv1-C message type."""
    if len(payload) < 8:
        return None
    return payload[0] >> 4 == 0x3 and payload[1] in MESSAGE_NAMES


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    header = parse_v1_header(buf, "gtpv1")
    if isinstance(header, Malformed):
        return header
    ies, anomalies = split_v1_ies(buf, header)
    return Parsed(Gtpv1Pdu(header, ies, anomalies), len(buf))


def _cause(value: bytes, fields: dict[str, Any]) -> None:
    fields["cause"] = value[0]
    fields["cause_name"] = code_name(CAUSE_NAMES, value[0])


def _msisdn(value: bytes, fields: dict[str, Any]) -> None:
    fields["msisdn"] = tbcd_digits(value[1:])   # after the nature of address octet


def _nsapi(value: bytes, fields: dict[str, Any]) -> None:
    # a second NSAPI element is the linked NSAPI of a secondary PDP context
    fields["linked_nsapi" if "nsapi" in fields else "nsapi"] = value[0] & 0x0F


def _end_user_address(value: bytes, fields: dict[str, Any]) -> None:
    if len(value) < 2:
        return
    organisation, number = value[0] & 0x0F, value[1]
    fields["pdp_type_organization"] = organisation
    fields["pdp_type_number"] = number
    fields["pdp_type_name"] = PDP_TYPE_NAMES.get((organisation, number),
                                                 f"unknown-{organisation}-{number}")
    address = value[2:]
    found = [ip_text(address[:4]), ip_text(address[4:])] if len(address) == 20 \
        else [ip_text(address)]
    if any(found):
        fields["end_user_address"] = [a for a in found if a]


def _gsn_address(value: bytes, fields: dict[str, Any]) -> None:
    address = ip_text(value)
    if address:
        fields.setdefault("gsn_addresses", []).append(address)


def _rat_type(value: bytes, fields: dict[str, Any]) -> None:
    if value:
        fields["rat_type"] = value[0]
        fields["rat_type_name"] = code_name(RAT_TYPE_NAMES, value[0])


def _setter(name: str, decode: Callable[[bytes], Any]) -> Callable[[bytes, dict], None]:
    def set_field(value: bytes, fields: dict[str, Any]) -> None:
        fields.setdefault(name, decode(value))
    return set_field


def _number(value: bytes) -> int:
    return int.from_bytes(value, "big")


IE_DECODERS: dict[int, Callable[[bytes, dict[str, Any]], None]] = {
    1: _cause,
    2: _setter("imsi", tbcd_digits),
    14: _setter("recovery", _number),
    15: _setter("selection_mode", lambda v: v[0] & 0x03),
    16: _setter("teid_data", _number),
    17: _setter("teid_control", _number),
    20: _nsapi,
    127: _setter("charging_id", _number),
    128: _end_user_address,
    131: _setter("apn", apn_text),
    133: _gsn_address,
    134: _msisdn,
    151: _rat_type,
    154: _setter("imei", tbcd_digits),
}


def ie_fields(ies: InfoElements) -> dict[str, Any]:
    """The decoded fields of the information elements, and the list of their types."""
    fields: dict[str, Any] = {}
    for ie_type, value in ies:
        decode = IE_DECODERS.get(ie_type)
        if decode is not None and value:
            decode(value, fields)
    if ies:
        fields["ie_types"] = [ie_type for ie_type, _ in ies]
    return fields


def to_event(pdu: Gtpv1Pdu, state: None = None) -> dict[str, Any]:
    fields = header_fields(pdu.header, MESSAGE_NAMES) | ie_fields(pdu.ies)
    if pdu.anomalies:
        fields["anomalies"] = list(pdu.anomalies)
    return {"network": {"protocol": "gtpv1"}, "gtpv1": fields}


ANALYZER = AnalyzerSpec(
    name="gtpv1", transport="udp", ports=(2123,), probe=probe, parse=parse_pdu,
    to_event=to_event,
)
