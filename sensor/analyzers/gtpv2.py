"""GTPv2-C (3GPP TS 29.274): the EPC control plane (S11, S5/S8, S4, S10...) on UDP 2123.

One event per message; a piggybacked message (P flag) that follows in the same datagram is
parsed next and makes its own event. The common information elements are decoded: identities
(IMSI, MSISDN, MEI), cause (with the offending IE), F-TEIDs, bearer contexts with their QoS,
APN, AMBR, RAT type, serving network, PDN address allocation, EBI, recovery and user location
(TAI, ECGI). Repeated elements become parallel arrays.

>>> raw = bytes.fromhex("48 20 0014 00000000 000101 00  01 0008 00 21436587092143f5")
>>> fields = to_event(parse_pdu(raw, to_server=True).pdu, None)["gtpv2"]
>>> fields["message_name"], fields["teid"], fields["sequence"], fields["imsi"]
('create_session_request', 0, 257, '123456789012345')
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, Parsed, ParseResult, code_name
from sensor.analyzers.gtpu import ip_text
from sensor.analyzers.gtpv1 import apn_text, tbcd_digits

FIXED = struct.Struct(">BBH")           # flags, message type, length
IE_HEADER = struct.Struct(">BHB")       # type, length, CR flag and instance
FLAG_P, FLAG_T, FLAG_MP = 0x10, 0x08, 0x04
MAX_GROUP_DEPTH = 3

MESSAGE_NAMES = {
    1: "echo_request", 2: "echo_response", 3: "version_not_supported_indication",
    32: "create_session_request", 33: "create_session_response",
    34: "modify_bearer_request", 35: "modify_bearer_response",
    36: "delete_session_request", 37: "delete_session_response",
    38: "change_notification_request", 39: "change_notification_response",
    40: "remote_ue_report_notification", 41: "remote_ue_report_acknowledge",
    64: "modify_bearer_command", 65: "modify_bearer_failure_indication",
    66: "delete_bearer_command", 67: "delete_bearer_failure_indication",
    68: "bearer_resource_command", 69: "bearer_resource_failure_indication",
    70: "downlink_data_notification_failure_indication", 71: "trace_session_activation",
    72: "trace_session_deactivation", 73: "stop_paging_indication",
    95: "create_bearer_request", 96: "create_bearer_response",
    97: "update_bearer_request", 98: "update_bearer_response",
    99: "delete_bearer_request", 100: "delete_bearer_response",
    101: "delete_pdn_connection_set_request", 102: "delete_pdn_connection_set_response",
    103: "pgw_downlink_triggering_notification", 104: "pgw_downlink_triggering_acknowledge",
    128: "identification_request", 129: "identification_response",
    130: "context_request", 131: "context_response", 132: "context_acknowledge",
    133: "forward_relocation_request", 134: "forward_relocation_response",
    135: "forward_relocation_complete_notification",
    136: "forward_relocation_complete_acknowledge",
    137: "forward_access_context_notification", 138: "forward_access_context_acknowledge",
    139: "relocation_cancel_request", 140: "relocation_cancel_response",
    141: "configuration_transfer_tunnel", 149: "detach_notification",
    150: "detach_acknowledge", 151: "cs_paging_indication", 152: "ran_information_relay",
    153: "alert_mme_notification", 154: "alert_mme_acknowledge",
    155: "ue_activity_notification", 156: "ue_activity_acknowledge",
    157: "isr_status_indication", 158: "ue_registration_query_request",
    159: "ue_registration_query_response", 160: "create_forwarding_tunnel_request",
    161: "create_forwarding_tunnel_response", 162: "suspend_notification",
    163: "suspend_acknowledge", 164: "resume_notification", 165: "resume_acknowledge",
    166: "create_indirect_data_forwarding_tunnel_request",
    167: "create_indirect_data_forwarding_tunnel_response",
    168: "delete_indirect_data_forwarding_tunnel_request",
    169: "delete_indirect_data_forwarding_tunnel_response",
    170: "release_access_bearers_request", 171: "release_access_bearers_response",
    176: "downlink_data_notification", 177: "downlink_data_notification_acknowledge",
    179: "pgw_restart_notification", 180: "pgw_restart_notification_acknowledge",
    200: "update_pdn_connection_set_request", 201: "update_pdn_connection_set_response",
    211: "modify_access_bearers_request", 212: "modify_access_bearers_response",
    231: "mbms_session_start_request", 232: "mbms_session_start_response",
    233: "mbms_session_update_request", 234: "mbms_session_update_response",
    235: "mbms_session_stop_request", 236: "mbms_session_stop_response",
}
CAUSE_NAMES = {
    2: "local_detach", 3: "complete_detach", 4: "rat_changed_from_3gpp_to_non_3gpp",
    5: "isr_deactivation", 6: "error_indication_received_from_rnc_enodeb_s4_sgsn_mme",
    7: "imsi_detach_only", 8: "reactivation_requested",
    9: "pdn_reconnection_to_this_apn_disallowed",
    10: "access_changed_from_non_3gpp_to_3gpp", 11: "pdn_connection_inactivity_timer_expires",
    12: "pgw_not_responding", 13: "network_failure", 14: "qos_parameter_mismatch",
    15: "eps_to_5gs_mobility", 16: "request_accepted", 17: "request_accepted_partially",
    18: "new_pdn_type_due_to_network_preference",
    19: "new_pdn_type_due_to_single_address_bearer_only", 64: "context_not_found",
    65: "invalid_message_format", 66: "version_not_supported_by_next_peer",
    67: "invalid_length", 68: "service_not_supported", 69: "mandatory_ie_incorrect",
    70: "mandatory_ie_missing", 72: "system_failure", 73: "no_resources_available",
    74: "semantic_error_in_the_tft_operation", 75: "syntactic_error_in_the_tft_operation",
    76: "semantic_errors_in_packet_filters", 77: "syntactic_errors_in_packet_filters",
    78: "missing_or_unknown_apn", 80: "gre_key_not_found", 81: "relocation_failure",
    82: "denied_in_rat", 83: "preferred_pdn_type_not_supported",
    84: "all_dynamic_addresses_are_occupied", 85: "ue_context_without_tft_already_activated",
    86: "protocol_type_not_supported", 87: "ue_not_responding", 88: "ue_refuses",
    89: "service_denied", 90: "unable_to_page_ue", 91: "no_memory_available",
    92: "user_authentication_failed", 93: "apn_access_denied_no_subscription",
    94: "request_rejected_reason_not_specified", 95: "p_tmsi_signature_mismatch",
    96: "imsi_imei_not_known", 97: "semantic_error_in_the_tad_operation",
    98: "syntactic_error_in_the_tad_operation", 100: "remote_peer_not_responding",
    101: "collision_with_network_initiated_request",
    102: "unable_to_page_ue_due_to_suspension", 103: "conditional_ie_missing",
    104: "apn_restriction_type_incompatible_with_currently_active_pdn_connection",
    105: "invalid_overall_length_of_the_triggered_response_and_piggybacked_message",
    106: "data_forwarding_not_supported", 107: "invalid_reply_from_remote_peer",
    108: "fallback_to_gtpv1", 109: "invalid_peer",
    110: "temporarily_rejected_due_to_handover_tau_rau_procedure_in_progress",
    111: "modifications_not_limited_to_s1_u_bearers",
    112: "request_rejected_for_a_pmipv6_reason", 113: "apn_congestion",
    114: "bearer_handling_not_supported", 115: "ue_already_re_attached",
    116: "multiple_pdn_connections_for_a_given_apn_not_allowed",
    117: "target_access_restricted_for_the_subscriber",
    119: "mme_sgsn_refuses_due_to_vplmn_policy", 120: "gtp_c_entity_congestion",
    121: "late_overlapping_request", 122: "timed_out_request",
    123: "ue_is_temporarily_not_reachable_due_to_power_saving",
    124: "relocation_failure_due_to_nas_message_redirection",
    125: "ue_not_authorised_by_ocs_or_external_aaa_server",
    126: "multiple_accesses_to_a_pdn_connection_not_allowed",
    127: "request_rejected_due_to_ue_capability", 128: "s1_u_path_failure",
    129: "5gc_not_allowed", 130: "pgw_mismatch_with_network_slice_subscribed_by_the_ue",
    131: "rejection_due_to_paging_restriction",
}
INTERFACE_NAMES = {
    0: "s1u_enodeb_gtpu", 1: "s1u_sgw_gtpu", 2: "s12_rnc_gtpu", 3: "s12_sgw_gtpu",
    4: "s5s8_sgw_gtpu", 5: "s5s8_pgw_gtpu", 6: "s5s8_sgw_gtpc", 7: "s5s8_pgw_gtpc",
    8: "s5s8_sgw_pmipv6", 9: "s5s8_pgw_pmipv6", 10: "s11_mme_gtpc", 11: "s11s4_sgw_gtpc",
    12: "s10n26_mme_gtpc", 13: "s3_mme_gtpc", 14: "s3_sgsn_gtpc", 15: "s4_sgsn_gtpu",
    16: "s4_sgw_gtpu", 17: "s4_sgsn_gtpc", 18: "s16_sgsn_gtpc",
    19: "enodeb_gnodeb_gtpu_dl_forwarding", 20: "enodeb_gtpu_ul_forwarding",
    21: "rnc_gtpu_forwarding", 22: "sgsn_gtpu_forwarding", 23: "sgw_upf_gtpu_dl_forwarding",
    24: "sm_mbms_gw_gtpc", 25: "sn_mbms_gw_gtpc", 26: "sm_mme_gtpc", 27: "sn_sgsn_gtpc",
    28: "sgw_gtpu_ul_forwarding", 29: "sn_sgsn_gtpu", 30: "s2b_epdg_gtpc",
    31: "s2bu_epdg_gtpu", 32: "s2b_pgw_gtpc", 33: "s2bu_pgw_gtpu", 34: "s2a_twan_gtpu",
    35: "s2a_twan_gtpc", 36: "s2a_pgw_gtpc", 37: "s2a_pgw_gtpu", 38: "s11_mme_gtpu",
    39: "s11_sgw_gtpu", 40: "n26_amf_gtpc", 41: "n19mb_upf_gtpu",
}
RAT_TYPE_NAMES = {
    1: "utran", 2: "geran", 3: "wlan", 4: "gan", 5: "hspa_evolution", 6: "eutran",
    7: "virtual", 8: "eutran_nb_iot", 9: "lte_m", 10: "nr",
}
PDN_TYPE_NAMES = {1: "ipv4", 2: "ipv6", 3: "ipv4v6", 4: "non_ip", 5: "ethernet"}
GROUPED = frozenset({93, 109, 180, 181, 191, 195})     # bearer/PDN context, load/overload...
IE_BEARER_CONTEXT = 93
# User location information parts in flag order (TS 29.274 §8.21): name and octets.
ULI_PARTS = (("cgi", 7), ("sai", 7), ("rai", 7), ("tai", 5), ("ecgi", 7), ("lai", 5),
             ("macro_enodeb", 6), ("extended_macro_enodeb", 6))


@dataclass(frozen=True, slots=True)
class Ie:
    """One information element; a grouped one holds its children instead of bytes."""

    type: int
    instance: int
    value: bytes
    children: tuple[Ie, ...] = ()


@dataclass(frozen=True, slots=True)
class Gtpv2Pdu:
    flags: int
    message_type: int
    length: int
    teid: int | None
    sequence: int
    priority: int | None
    ies: tuple[Ie, ...]
    anomalies: tuple[str, ...] = ()


def probe(payload: bytes) -> bool | None:
    """GTP version 2 and a known GTPv2-C message type."""
    if len(payload) < FIXED.size:
        return None
    return payload[0] >> 5 == 2 and payload[1] in MESSAGE_NAMES


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    """One message; with the P flag set, only this message is consumed so that the
    piggybacked one after it is parsed next. Datagrams come whole: a header cut short is
    malformed, a body cut short is decoded as far as it goes and flagged ``truncated``."""
    if len(buf) < FIXED.size:
        return Malformed("gtpv2_truncated")
    flags, message_type, length = FIXED.unpack_from(buf)
    if flags >> 5 != 2:
        return Malformed("gtpv2_not_version_2")
    header_size = 12 if flags & FLAG_T else 8
    if len(buf) < header_size:
        return Malformed("gtpv2_truncated")
    if FIXED.size + length < header_size:
        return Malformed("gtpv2_bad_length")
    end = min(FIXED.size + length, len(buf))
    ies, anomalies = _walk(buf, header_size, end, 0)
    anomalies += _datagram_anomalies(flags, FIXED.size + length, len(buf))
    pdu = _pdu(buf, flags, message_type, length, ies, anomalies)
    return Parsed(pdu, end if flags & FLAG_P else len(buf))


def _datagram_anomalies(flags: int, declared_end: int, size: int) -> list[str]:
    """How the message fits its datagram: cut short (a small snap length), or followed by
    bytes the P flag does not announce."""
    if size < declared_end:
        return ["truncated"]
    if flags & FLAG_P and size == declared_end:
        return ["piggybacked_message_missing"]
    if not flags & FLAG_P and size > declared_end:
        return ["trailing_bytes"]
    return []


def _pdu(buf: bytes, flags: int, message_type: int, length: int, ies: list[Ie],
         anomalies: list[str]) -> Gtpv2Pdu:
    teid = int.from_bytes(buf[4:8], "big") if flags & FLAG_T else None
    at = 8 if flags & FLAG_T else 4
    sequence = int.from_bytes(buf[at:at + 3], "big")
    priority = buf[at + 3] >> 4 if flags & FLAG_MP else None
    return Gtpv2Pdu(flags, message_type, length, teid, sequence, priority, tuple(ies),
                    tuple(anomalies))


def _walk(buf: bytes, offset: int, end: int, depth: int) -> tuple[list[Ie], list[str]]:
    """The information elements between ``offset`` and ``end``, grouped ones opened."""
    ies: list[Ie] = []
    anomalies: list[str] = []
    for item in _iter_ies(buf, offset, end):
        if isinstance(item, str):
            anomalies.append(item)
            break
        ie_type, instance, start, stop = item
        if ie_type in GROUPED and depth < MAX_GROUP_DEPTH:
            children, inner = _walk(buf, start, stop, depth + 1)
            ies.append(Ie(ie_type, instance, b"", tuple(children)))
            anomalies += inner
        else:
            ies.append(Ie(ie_type, instance, bytes(buf[start:stop])))
    return ies, anomalies


def _iter_ies(buf: bytes, offset: int, end: int) -> Iterator[tuple[int, int, int, int] | str]:
    while offset < end:
        if offset + IE_HEADER.size > end:
            yield "truncated_ie"
            return
        ie_type, length, instance = IE_HEADER.unpack_from(buf, offset)
        start = offset + IE_HEADER.size
        if start + length > end:
            yield "truncated_ie"
            return
        yield ie_type, instance & 0x0F, start, start + length
        offset = start + length


def plmn(raw: bytes) -> tuple[str, str]:
    """MCC and MNC of a PLMN identity (three octets of swapped digits).

    >>> plmn(bytes.fromhex("64f629"))
    ('466', '92')
    """
    mcc = f"{raw[0] & 0x0F}{raw[0] >> 4}{raw[1] & 0x0F}"
    mnc = f"{raw[2] & 0x0F}{raw[2] >> 4}"
    if raw[1] >> 4 != 0x0F:
        mnc += str(raw[1] >> 4)
    return mcc, mnc


# --- element decoders: each adds its fields to the message's (or a bearer's) dict ----------

Decoder = Callable[[Ie, dict[str, Any]], None]


def _cause(ie: Ie, out: dict[str, Any]) -> None:
    value = ie.value
    out.setdefault("cause", value[0])
    out.setdefault("cause_name", code_name(CAUSE_NAMES, value[0]))
    if len(value) >= 6 and "cause_offending_ie_type" not in out:
        out["cause_offending_ie_type"] = value[2]
        out["cause_offending_ie_instance"] = value[5] & 0x0F


def _fteid(ie: Ie, out: dict[str, Any]) -> None:
    value = ie.value
    if len(value) < 5:
        return
    interface = value[0] & 0x3F
    entry = {"interface_type": interface, "interface_name": code_name(INTERFACE_NAMES, interface),
             "teid": int.from_bytes(value[1:5], "big"), "instance": ie.instance}
    offset = 5
    if value[0] & 0x80 and len(value) >= offset + 4:
        entry["ipv4"] = ip_text(value[offset:offset + 4])
        offset += 4
    if value[0] & 0x40 and len(value) >= offset + 16:
        entry["ipv6"] = ip_text(value[offset:offset + 16])
    out.setdefault("fteids", []).append(entry)


def _bearer_qos(ie: Ie, out: dict[str, Any]) -> None:
    value = ie.value
    if len(value) < 22:
        return
    rates = [int.from_bytes(value[at:at + 5], "big") for at in (2, 7, 12, 17)]
    out["qos"] = {"qci": value[1], "arp_priority": (value[0] >> 2) & 0x0F,
                  "mbr_uplink": rates[0], "mbr_downlink": rates[1],
                  "gbr_uplink": rates[2], "gbr_downlink": rates[3]}


def _paa(ie: Ie, out: dict[str, Any]) -> None:
    value = ie.value
    pdn_type = value[0] & 0x07
    out["paa_pdn_type"] = pdn_type
    out["paa_pdn_type_name"] = code_name(PDN_TYPE_NAMES, pdn_type)
    addresses = []
    if pdn_type in (2, 3) and len(value) >= 18:
        out["paa_ipv6_prefix_length"] = value[1]
        addresses.append(ip_text(value[2:18]))
    if pdn_type == 1 and len(value) >= 5:
        addresses.append(ip_text(value[1:5]))
    if pdn_type == 3 and len(value) >= 22:
        addresses.append(ip_text(value[18:22]))
    if addresses:
        out["paa_address"] = addresses


def _ambr(ie: Ie, out: dict[str, Any]) -> None:
    if len(ie.value) >= 8:
        out["ambr_uplink"] = int.from_bytes(ie.value[0:4], "big")
        out["ambr_downlink"] = int.from_bytes(ie.value[4:8], "big")


def _ebi(ie: Ie, out: dict[str, Any]) -> None:
    out.setdefault("ebi", []).append(ie.value[0] & 0x0F)


def _rat_type(ie: Ie, out: dict[str, Any]) -> None:
    out["rat_type"] = ie.value[0]
    out["rat_type_name"] = code_name(RAT_TYPE_NAMES, ie.value[0])


def _serving_network(ie: Ie, out: dict[str, Any]) -> None:
    if len(ie.value) >= 3:
        out["serving_network_mcc"], out["serving_network_mnc"] = plmn(ie.value)


def _uli(ie: Ie, out: dict[str, Any]) -> None:
    flags, offset, value = ie.value[0], 1, ie.value
    for bit, (name, size) in enumerate(ULI_PARTS):
        if not flags & (1 << bit):
            continue
        if offset + size > len(value):
            return
        part = value[offset:offset + size]
        if name == "tai":
            out["uli_mcc"], out["uli_mnc"] = plmn(part)
            out["uli_tac"] = int.from_bytes(part[3:5], "big")
        elif name == "ecgi":
            out.setdefault("uli_mcc", plmn(part)[0])
            out.setdefault("uli_mnc", plmn(part)[1])
            out["uli_eci"] = int.from_bytes(part[3:7], "big") & 0x0FFFFFFF
        offset += size


def _keep(name: str, decode: Callable[[bytes], Any]) -> Decoder:
    def keep_first(ie: Ie, out: dict[str, Any]) -> None:
        out.setdefault(name, decode(ie.value))
    return keep_first


def _bearer_context(ie: Ie, out: dict[str, Any]) -> None:
    bearer: dict[str, Any] = {}
    for child in ie.children:
        decoder = BEARER_DECODERS.get(child.type)
        if decoder is not None and child.value:
            decoder(child, bearer)
    out.setdefault("bearers", []).append(bearer)


DECODERS: dict[int, Decoder] = {
    1: _keep("imsi", tbcd_digits),
    2: _cause,
    3: _keep("recovery", lambda v: v[0]),
    71: _keep("apn", apn_text),
    72: _ambr,
    73: _ebi,
    75: _keep("mei", tbcd_digits),
    76: _keep("msisdn", tbcd_digits),
    79: _paa,
    82: _rat_type,
    83: _serving_network,
    86: _uli,
    87: _fteid,
    99: _keep("pdn_type", lambda v: v[0] & 0x07),
    IE_BEARER_CONTEXT: _bearer_context,
}
BEARER_DECODERS: dict[int, Decoder] = {2: _cause, 73: _ebi, 80: _bearer_qos, 87: _fteid}


# --- event building --------------------------------------------------------------------------

def _decode(ies: tuple[Ie, ...]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for ie in ies:
        decoder = DECODERS.get(ie.type)
        if decoder is not None and (ie.value or ie.children):
            decoder(ie, decoded)
    return decoded


def _fteid_arrays(decoded: dict[str, Any]) -> dict[str, list[Any]]:
    """F-TEIDs of the message and of its bearers as parallel arrays (``ebi`` 0: the message's
    own); addresses are listed per family, in the order of the F-TEIDs that carry one."""
    entries = [(0, f) for f in decoded.pop("fteids", [])]
    for bearer in decoded.get("bearers", []):
        entries += [((bearer.get("ebi") or [0])[0], f) for f in bearer.get("fteids", [])]
    arrays: dict[str, list[Any]] = {}
    for ebi, fteid in entries:
        arrays.setdefault("fteid.ebi", []).append(ebi)
        for key, value in fteid.items():
            arrays.setdefault(f"fteid.{key}", []).append(value)
    return arrays


def _bearer_arrays(bearers: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Bearer contexts as parallel arrays: ``bearer.ebi`` for every bearer; the cause and
    the QoS of those bearers that carry one, each with its own ``*_ebi`` array."""
    arrays: dict[str, list[Any]] = {}
    for bearer in bearers:
        ebi = (bearer.get("ebi") or [0])[0]
        arrays.setdefault("bearer.ebi", []).append(ebi)
        if "cause" in bearer:
            arrays.setdefault("bearer.cause_ebi", []).append(ebi)
            arrays.setdefault("bearer.cause", []).append(bearer["cause"])
            arrays.setdefault("bearer.cause_name", []).append(bearer["cause_name"])
        if "qos" in bearer:
            arrays.setdefault("bearer.qos_ebi", []).append(ebi)
            for key, value in bearer["qos"].items():
                arrays.setdefault(f"bearer.{key}", []).append(value)
    return arrays


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        parent, _, leaf = dotted.rpartition(".")
        (nested.setdefault(parent, {}) if parent else nested)[leaf] = value
    return nested


def _header_fields(pdu: Gtpv2Pdu) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "version": 2, "flags": pdu.flags, "piggybacked": bool(pdu.flags & FLAG_P),
        "message_type": pdu.message_type,
        "message_name": code_name(MESSAGE_NAMES, pdu.message_type),
        "length": pdu.length, "sequence": pdu.sequence,
    }
    if pdu.teid is not None:
        fields["teid"] = pdu.teid
    if pdu.priority is not None:
        fields["message_priority"] = pdu.priority
    return fields


def to_event(pdu: Gtpv2Pdu, state: None = None) -> dict[str, Any]:
    decoded = _decode(pdu.ies)
    arrays = _fteid_arrays(decoded) | _bearer_arrays(decoded.pop("bearers", []))
    fields = _header_fields(pdu) | decoded | _nest(arrays)
    if pdu.ies:
        fields["ie_types"] = [ie.type for ie in pdu.ies]
    if pdu.anomalies:
        fields["anomalies"] = list(pdu.anomalies)
    return {"network": {"protocol": "gtpv2"}, "gtpv2": fields}


ANALYZER = AnalyzerSpec(
    name="gtpv2", transport="udp", ports=(2123,), probe=probe, parse=parse_pdu,
    to_event=to_event,
)
