"""NAS-5GS messages (3GPP TS 24.501), as NGAP carries them in its NAS-PDU information elements.

The headers (extended protocol discriminator, security header, message type, the 5GSM PDU
session id and PTI) are read here, so they are reported even when the body is odd. The body's
information elements are located by pycrate_mobile (imported on first use) and the few that
matter to monitoring are read here: the 5GS mobile identity (SUCI, 5G-GUTI, IMEI, ...), 5GMM and
5GSM causes, the registration type and the 5GSM message a UL/DL NAS transport carries. A
message whose security header says it is ciphered is reported as such; its inner message type
is not guessed.

>>> fields = decode(bytes.fromhex("7e 00 41 79 000d 01 00f110 0000 00 00 0000000010"))
>>> fields["message_name"], fields["suci"], fields["suci_null_scheme"]
('registration_request', 'suci-0-001-01-0000-0-0-0000000001', True)
>>> decode(bytes.fromhex("7e 02 a1b2c3d4 05 7e0043"))["ciphered"]
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import code_name
from sensor.collector import freeze_long_lived

EPD_5GMM, EPD_5GSM = 0x7E, 0x2E
EPD_NAMES = {EPD_5GMM: "5gmm", EPD_5GSM: "5gsm"}
SECURITY_HEADER_NAMES = {
    0: "plain", 1: "integrity_protected", 2: "integrity_protected_and_ciphered",
    3: "integrity_protected_new_context", 4: "integrity_protected_and_ciphered_new_context",
}
CIPHERED = frozenset({2, 4})
PROTECTED_HEADER_LEN = 7          # EPD, security header type, MAC (4), sequence number

MM_MESSAGE_NAMES = {
    0x41: "registration_request", 0x42: "registration_accept", 0x43: "registration_complete",
    0x44: "registration_reject", 0x45: "deregistration_request_ue_originating",
    0x46: "deregistration_accept_ue_originating", 0x47: "deregistration_request_ue_terminated",
    0x48: "deregistration_accept_ue_terminated", 0x4C: "service_request",
    0x4D: "service_reject", 0x4E: "service_accept", 0x4F: "control_plane_service_request",
    0x50: "network_slice_specific_authentication_command",
    0x51: "network_slice_specific_authentication_complete",
    0x52: "network_slice_specific_authentication_result",
    0x54: "configuration_update_command", 0x55: "configuration_update_complete",
    0x56: "authentication_request", 0x57: "authentication_response",
    0x58: "authentication_reject", 0x59: "authentication_failure",
    0x5A: "authentication_result", 0x5B: "identity_request", 0x5C: "identity_response",
    0x5D: "security_mode_command", 0x5E: "security_mode_complete",
    0x5F: "security_mode_reject", 0x64: "5gmm_status", 0x65: "notification",
    0x66: "notification_response", 0x67: "ul_nas_transport", 0x68: "dl_nas_transport",
}
SM_MESSAGE_NAMES = {
    0xC1: "pdu_session_establishment_request", 0xC2: "pdu_session_establishment_accept",
    0xC3: "pdu_session_establishment_reject", 0xC5: "pdu_session_authentication_command",
    0xC6: "pdu_session_authentication_complete", 0xC7: "pdu_session_authentication_result",
    0xC9: "pdu_session_modification_request", 0xCA: "pdu_session_modification_reject",
    0xCB: "pdu_session_modification_command", 0xCC: "pdu_session_modification_complete",
    0xCD: "pdu_session_modification_command_reject", 0xD1: "pdu_session_release_request",
    0xD2: "pdu_session_release_reject", 0xD3: "pdu_session_release_command",
    0xD4: "pdu_session_release_complete", 0xD6: "5gsm_status",
}
_COMMON_CAUSES = {
    95: "semantically_incorrect_message", 96: "invalid_mandatory_information",
    97: "message_type_non_existent_or_not_implemented",
    98: "message_type_not_compatible_with_protocol_state",
    99: "information_element_non_existent_or_not_implemented", 100: "conditional_ie_error",
    101: "message_not_compatible_with_protocol_state", 111: "protocol_error_unspecified",
}
MM_CAUSE_NAMES = {
    3: "illegal_ue", 5: "pei_not_accepted", 6: "illegal_me", 7: "5gs_services_not_allowed",
    9: "ue_identity_cannot_be_derived_by_the_network", 10: "implicitly_deregistered",
    11: "plmn_not_allowed", 12: "tracking_area_not_allowed",
    13: "roaming_not_allowed_in_this_tracking_area",
    15: "no_suitable_cells_in_tracking_area", 20: "mac_failure", 21: "synch_failure",
    22: "congestion", 23: "ue_security_capabilities_mismatch",
    24: "security_mode_rejected_unspecified", 26: "non_5g_authentication_unacceptable",
    27: "n1_mode_not_allowed", 28: "restricted_service_area", 31: "redirection_to_epc_required",
    62: "no_network_slices_available", 65: "maximum_number_of_pdu_sessions_reached",
    67: "insufficient_resources_for_specific_slice_and_dnn",
    69: "insufficient_resources_for_specific_slice", 71: "ngksi_already_in_use",
    72: "non_3gpp_access_to_5gcn_not_allowed", 73: "serving_network_not_authorized",
    74: "temporarily_not_authorized_for_this_snpn",
    75: "permanently_not_authorized_for_this_snpn", 76: "not_authorized_for_this_cag",
    77: "wireline_access_area_not_allowed", 90: "payload_was_not_forwarded",
    91: "dnn_not_supported_or_not_subscribed_in_the_slice",
    92: "insufficient_user_plane_resources_for_the_pdu_session",
} | _COMMON_CAUSES
SM_CAUSE_NAMES = {
    8: "operator_determined_barring", 26: "insufficient_resources",
    27: "missing_or_unknown_dnn", 28: "unknown_pdu_session_type",
    29: "user_authentication_or_authorization_failed", 31: "request_rejected_unspecified",
    32: "service_option_not_supported", 33: "requested_service_option_not_subscribed",
    35: "pti_already_in_use", 36: "regular_deactivation", 38: "network_failure",
    39: "reactivation_requested", 43: "invalid_pdu_session_identity",
    46: "out_of_ladn_service_area", 47: "pti_mismatch",
    50: "pdu_session_type_ipv4_only_allowed", 51: "pdu_session_type_ipv6_only_allowed",
    54: "pdu_session_does_not_exist", 57: "pdu_session_type_ipv4v6_only_allowed",
    59: "unsupported_5qi_value", 67: "insufficient_resources_for_specific_slice_and_dnn",
    68: "not_supported_ssc_mode", 69: "insufficient_resources_for_specific_slice",
    70: "missing_or_unknown_dnn_in_a_slice", 81: "invalid_pti_value",
} | _COMMON_CAUSES
REGISTRATION_TYPE_NAMES = {
    1: "initial_registration", 2: "mobility_registration_updating",
    3: "periodic_registration_updating", 4: "emergency_registration",
    5: "snpn_onboarding_registration", 6: "disaster_roaming_mobility_registration_updating",
    7: "disaster_roaming_initial_registration",
}
IDENTITY_TYPE_NAMES = {
    0: "no_identity", 1: "suci", 2: "5g_guti", 3: "imei", 4: "5g_s_tmsi", 5: "imeisv",
    6: "mac_address", 7: "eui_64",
}
SUPI_FORMAT_NAMES = {0: "imsi", 1: "network_specific_identifier"}
PROTECTION_SCHEME_NAMES = {0: "null", 1: "ecies_profile_a", 2: "ecies_profile_b"}
PAYLOAD_CONTAINER_NAMES = {
    1: "n1_sm_information", 2: "sms", 3: "lpp", 4: "sor_transparent_container",
    5: "ue_policy_container", 6: "ue_parameters_update", 7: "location_services",
    8: "ciot_user_data", 15: "multiple_payloads",
}
N1_SM_INFORMATION = 1
SUCI_IMSI_HEADER = 8              # type octet, PLMN (3), routing indicator (2), scheme, key id


class Anomaly(StrEnum):
    TRUNCATED = "nas5gs_truncated"
    UNKNOWN_EPD = "nas5gs_unknown_protocol_discriminator"
    UNKNOWN_SECURITY_HEADER = "nas5gs_unknown_security_header"
    BAD_MOBILE_IDENTITY = "nas5gs_bad_mobile_identity"


class NasMalformed(ValueError):
    """A NAS PDU whose headers cannot be read; ``reason`` is an :class:`Anomaly`."""

    def __init__(self, reason: Anomaly) -> None:
        super().__init__(reason)
        self.reason = reason


def decode(raw: bytes) -> dict[str, Any]:
    """The ``nas5gs.*`` fields of one NAS PDU; raises :class:`NasMalformed`."""
    if len(raw) < 3:
        raise NasMalformed(Anomaly.TRUNCATED)
    if raw[0] == EPD_5GSM:
        return _header_fields(EPD_5GSM, 0) | _plain_sm(raw)
    if raw[0] != EPD_5GMM:
        raise NasMalformed(Anomaly.UNKNOWN_EPD)
    header_type = raw[1] & 0x0F
    fields = _header_fields(EPD_5GMM, header_type)
    if header_type == 0:
        return fields | _plain_mm(raw)
    if header_type not in SECURITY_HEADER_NAMES:
        raise NasMalformed(Anomaly.UNKNOWN_SECURITY_HEADER)
    if len(raw) < PROTECTED_HEADER_LEN:
        raise NasMalformed(Anomaly.TRUNCATED)
    fields["sequence_number"] = raw[6]
    fields["ciphered"] = header_type in CIPHERED
    if fields["ciphered"]:
        return fields
    return fields | _plain(raw[PROTECTED_HEADER_LEN:])


def _header_fields(epd: int, header_type: int) -> dict[str, Any]:
    return {"epd": epd, "epd_name": EPD_NAMES[epd], "security_header_type": header_type,
            "security_header_name": code_name(SECURITY_HEADER_NAMES, header_type)}


def _plain(raw: bytes) -> dict[str, Any]:
    """The message inside an integrity-protected (not ciphered) one."""
    if len(raw) < 3:
        raise NasMalformed(Anomaly.TRUNCATED)
    if raw[0] == EPD_5GSM:
        return _plain_sm(raw)
    if raw[0] != EPD_5GMM:
        raise NasMalformed(Anomaly.UNKNOWN_EPD)
    return _plain_mm(raw)


def _plain_mm(raw: bytes) -> dict[str, Any]:
    message_type = raw[2]
    fields: dict[str, Any] = {"message_type": message_type,
                              "message_name": code_name(MM_MESSAGE_NAMES, message_type)}
    message = _pycrate_message(raw)
    if message is None:
        fields["body_decoded"] = False
        return fields
    if len(raw) > 3 and message_type in LOW_NIBBLE_READERS:
        fields |= LOW_NIBBLE_READERS[message_type](raw[3] & 0x0F)
    if len(raw) > 3 and message_type == SECURITY_MODE_COMMAND:
        fields |= _selected_algorithms(raw[3])
    for name, reader in MM_IE_READERS.items():
        ie = _present(message, name)
        if ie is not None:
            reader(ie, fields)
    return fields


def _plain_sm(raw: bytes) -> dict[str, Any]:
    """A 5GSM message: its fields at the top and in ``sm`` (where transports put them)."""
    sm = _sm_fields(raw)
    return {"message_type": sm["message_type"], "message_name": sm["message_name"],
            "pdu_session_id": sm["pdu_session_id"], "sm": sm}


def _sm_fields(raw: bytes) -> dict[str, Any]:
    if len(raw) < 4:
        raise NasMalformed(Anomaly.TRUNCATED)
    message_type = raw[3]
    sm: dict[str, Any] = {"pdu_session_id": raw[1], "pti": raw[2], "message_type": message_type,
                          "message_name": code_name(SM_MESSAGE_NAMES, message_type)}
    message = _pycrate_message(raw)
    cause = None if message is None else _present(message, "5GSMCause")
    if cause is not None:
        code = _value_bytes(cause)[0]
        sm["cause"], sm["cause_name"] = code, code_name(SM_CAUSE_NAMES, code)
    return sm


# --- the half-octet IE that follows the message type of some messages -----------------------

def _registration_type(value: int) -> dict[str, Any]:
    kind = value & 0x07
    return {"registration_type": kind,
            "registration_type_name": code_name(REGISTRATION_TYPE_NAMES, kind),
            "follow_on_request": bool(value & 0x08)}


def _requested_identity(value: int) -> dict[str, Any]:
    kind = value & 0x07
    return {"requested_identity_type": kind,
            "requested_identity_type_name": code_name(IDENTITY_TYPE_NAMES, kind)}


def _payload_container_type(value: int) -> dict[str, Any]:
    return {"payload_container_type": value,
            "payload_container_name": code_name(PAYLOAD_CONTAINER_NAMES, value)}


SECURITY_MODE_COMMAND = 0x5D


def _selected_algorithms(value: int) -> dict[str, Any]:
    """The Selected NAS security algorithms (TS 24.501 9.11.3.34), the first octet of a
    Security Mode Command: 5G-EA (ciphering) in the high nibble, 5G-IA (integrity) in the low;
    0 is the null algorithm."""
    return {"ciphering_algorithm": value >> 4, "integrity_algorithm": value & 0x0F}


LOW_NIBBLE_READERS: dict[int, Callable[[int], dict[str, Any]]] = {
    0x41: _registration_type, 0x5B: _requested_identity,
    0x67: _payload_container_type, 0x68: _payload_container_type,
}


# --- information elements located by pycrate_mobile -------------------------------------------

def _read_mobile_identity(ie: Any, fields: dict[str, Any]) -> None:
    identity = mobile_identity(_value_bytes(ie))
    fields.update({k: v for k, v in identity.items() if k not in fields})


def _read_mm_cause(ie: Any, fields: dict[str, Any]) -> None:
    code = _value_bytes(ie)[0]
    fields["mm_cause"], fields["mm_cause_name"] = code, code_name(MM_CAUSE_NAMES, code)


def _read_pdu_session_id(ie: Any, fields: dict[str, Any]) -> None:
    fields["pdu_session_id"] = _value_bytes(ie)[0]


def _read_payload_container(ie: Any, fields: dict[str, Any]) -> None:
    kind = fields.get("payload_container_type")
    payload = _value_bytes(ie)
    if kind == N1_SM_INFORMATION and len(payload) >= 4 and payload[0] == EPD_5GSM:
        fields["sm"] = _sm_fields(payload)



MM_IE_READERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "5GSID": _read_mobile_identity,
    "GUTI": _read_mobile_identity,
    "IMEISV": _read_mobile_identity,
    "PEI": _read_mobile_identity,
    "5GMMCause": _read_mm_cause,
    "PDUSessID": _read_pdu_session_id,
    "PayloadContainer": _read_payload_container,
}


def _pycrate_message(raw: bytes) -> Any:
    """The message as pycrate_mobile decodes it, or None when it cannot."""
    parse = _parser()
    # a third-party decoder facing hostile bytes: any failure means "body not decoded"
    try:
        message, error = parse(raw, inner=False, sec_hdr=False)
    except Exception:
        return None
    return message if error == 0 else None


def _present(message: Any, name: str) -> Any:
    """An information element of ``message`` when the message has it and it is present."""
    if name not in message._by_name:
        return None
    ie = message[name]
    return None if ie.get_trans() else ie


def _value_bytes(ie: Any) -> bytes:
    """The value octets of an IE (after its IEI and length, when it has them)."""
    value: bytes = ie[-1].to_bytes()
    if not value:
        raise NasMalformed(Anomaly.TRUNCATED)
    return value


_parse_nas5g: Callable[..., tuple[Any, int]] | None = None


def load() -> None:
    """Import pycrate_mobile now rather than on the first message."""
    _parser()


def _parser() -> Callable[..., tuple[Any, int]]:
    """pycrate_mobile's parser, imported on first use (it takes about a second)."""
    global _parse_nas5g
    if _parse_nas5g is None:
        # it warns once that an optional crypto module is missing (deciphering is not needed
        # here) and once per IE it cannot decode: hostile traffic must not flood the logs
        logging.getLogger("pycrate_mobile").setLevel(logging.ERROR)
        from pycrate_mobile.NAS5G import parse_NAS5G  # type: ignore[import-untyped]

        _parse_nas5g = parse_NAS5G
        freeze_long_lived()   # pycrate's message classes live as long as the process
    return _parse_nas5g


# --- 5GS mobile identity (TS 24.501 9.11.3.4) ------------------------------------------------

def mobile_identity(value: bytes) -> dict[str, Any]:
    """The fields of a 5GS mobile identity value (without its IEI and length).

    >>> mobile_identity(bytes.fromhex("f2 00f110 02 0040 c0004bb3"))["guti"]
    '5g-guti-00101-020040-c0004bb3'
    """
    if not value:
        raise NasMalformed(Anomaly.BAD_MOBILE_IDENTITY)
    kind = value[0] & 0x07
    fields: dict[str, Any] = {"identity_type": kind,
                              "identity_type_name": code_name(IDENTITY_TYPE_NAMES, kind)}
    reader = IDENTITY_READERS.get(kind)
    if reader is not None:
        fields |= reader(value)
    return fields


def _suci(value: bytes) -> dict[str, Any]:
    supi_format = (value[0] >> 4) & 0x07
    fields: dict[str, Any] = {"supi_format": supi_format,
                              "supi_format_name": code_name(SUPI_FORMAT_NAMES, supi_format)}
    if supi_format != 0:
        fields["suci"] = "nai-" + value[1:].decode("utf-8", "replace")
        return fields
    if len(value) < SUCI_IMSI_HEADER:
        raise NasMalformed(Anomaly.BAD_MOBILE_IDENTITY)
    mcc, mnc = plmn(value[1:4])
    routing = _bcd(value[4:6]) or "0"
    scheme, key_id = value[6] & 0x0F, value[7]
    output = value[SUCI_IMSI_HEADER:]
    scheme_output = _bcd(output) if scheme == 0 else output.hex()
    return fields | {
        "mcc": mcc, "mnc": mnc, "routing_indicator": routing, "protection_scheme_id": scheme,
        "protection_scheme_name": code_name(PROTECTION_SCHEME_NAMES, scheme),
        "suci_null_scheme": scheme == 0, "home_network_public_key_id": key_id,
        "suci": f"suci-0-{mcc}-{mnc}-{routing}-{scheme}-{key_id}-{scheme_output}",
    }


def _guti(value: bytes) -> dict[str, Any]:
    if len(value) != 11:
        raise NasMalformed(Anomaly.BAD_MOBILE_IDENTITY)
    mcc, mnc = plmn(value[1:4])
    tmsi = value[7:11].hex()
    return {"mcc": mcc, "mnc": mnc, "amf_region_id": value[4],
            "amf_set_id": int.from_bytes(value[5:7], "big") >> 6, "amf_pointer": value[6] & 0x3F,
            "tmsi": tmsi, "guti": f"5g-guti-{mcc}{mnc}-{value[4:7].hex()}-{tmsi}"}


def _s_tmsi(value: bytes) -> dict[str, Any]:
    if len(value) != 7:
        raise NasMalformed(Anomaly.BAD_MOBILE_IDENTITY)
    return {"amf_set_id": int.from_bytes(value[1:3], "big") >> 6, "amf_pointer": value[2] & 0x3F,
            "tmsi": value[3:7].hex()}


def _imei(value: bytes) -> dict[str, Any]:
    digits = _imei_digits(value)
    return {"imei": digits}


def _imeisv(value: bytes) -> dict[str, Any]:
    return {"imeisv": _imei_digits(value)}


def _mac_address(value: bytes) -> dict[str, Any]:
    if len(value) < 7:
        raise NasMalformed(Anomaly.BAD_MOBILE_IDENTITY)
    return {"mac_address": ":".join(f"{octet:02x}" for octet in value[1:7])}


IDENTITY_READERS: dict[int, Callable[[bytes], dict[str, Any]]] = {
    1: _suci, 2: _guti, 3: _imei, 4: _s_tmsi, 5: _imeisv, 6: _mac_address,
}


def _imei_digits(value: bytes) -> str:
    """Digits of an IMEI(SV): the first in the high half of the type octet, then BCD."""
    odd = bool(value[0] & 0x08)
    digits = f"{value[0] >> 4:x}" + _bcd(value[1:], stop_at_filler=False)
    return digits if odd else digits[:-1]


def plmn(octets: bytes) -> tuple[str, str]:
    """MCC and MNC of a BCD-coded PLMN identity (3 octets).

    >>> plmn(bytes.fromhex("02f839")), plmn(bytes.fromhex("130014"))
    (('208', '93'), ('310', '410'))
    """
    digits = [f"{o & 0x0F:x}{o >> 4:x}" for o in octets]
    mcc = digits[0] + digits[1][0]
    mnc = digits[2] + digits[1][1]
    return mcc, mnc.removesuffix("f")


def _bcd(octets: bytes, stop_at_filler: bool = True) -> str:
    digits = "".join(f"{o & 0x0F:x}{o >> 4:x}" for o in octets)
    return digits.split("f", 1)[0] if stop_at_filler else digits
