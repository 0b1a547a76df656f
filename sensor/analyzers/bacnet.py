"""BACnet/IP: the BVLC header, the NPDU and the APDU it carries (UDP 47808).

One event per BVLC message. Beside the codes (BVLC function, network message, APDU type,
service choice) it decodes the parameters analysts ask about: Who-Is ranges, I-Am identities,
ReadProperty/WriteProperty targets and written values, ReinitializeDevice and
DeviceCommunicationControl requests (only whether a password was sent, never the password),
error classes and codes, reject and abort reasons.

>>> raw = bytes.fromhex("810b 0008 0100 1008")
>>> fields = to_event(parse_pdu(raw, to_server=True).pdu, None)["bacnet"]
>>> fields["bvlc_function_name"], fields["apdu_type_name"], fields["service_name"]
('original_broadcast_npdu', 'unconfirmed_request', 'who_is')
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name
from sensor.codecs.reader import Reader, Truncated

BVLC_TYPE = 0x81
BVLC_HEADER = 4
BVLC_FUNCTIONS = {
    0x00: "bvlc_result", 0x01: "write_broadcast_distribution_table",
    0x02: "read_broadcast_distribution_table", 0x03: "read_broadcast_distribution_table_ack",
    0x04: "forwarded_npdu", 0x05: "register_foreign_device",
    0x06: "read_foreign_device_table", 0x07: "read_foreign_device_table_ack",
    0x08: "delete_foreign_device_table_entry", 0x09: "distribute_broadcast_to_network",
    0x0A: "original_unicast_npdu", 0x0B: "original_broadcast_npdu", 0x0C: "secure_bvll",
}
BVLC_RESULTS = {
    0x00: "successful_completion", 0x10: "write_broadcast_distribution_table_nak",
    0x20: "read_broadcast_distribution_table_nak", 0x30: "register_foreign_device_nak",
    0x40: "read_foreign_device_table_nak", 0x50: "delete_foreign_device_table_entry_nak",
    0x60: "distribute_broadcast_to_network_nak",
}
NPDU_FUNCTIONS = (0x04, 0x09, 0x0A, 0x0B)
NETWORK_MESSAGES = {
    0x00: "who_is_router_to_network", 0x01: "i_am_router_to_network",
    0x02: "i_could_be_router_to_network", 0x03: "reject_message_to_network",
    0x04: "router_busy_to_network", 0x05: "router_available_to_network",
    0x06: "initialize_routing_table", 0x07: "initialize_routing_table_ack",
    0x08: "establish_connection_to_network", 0x09: "disconnect_connection_to_network",
    0x0A: "challenge_request", 0x0B: "security_payload", 0x0C: "security_response",
    0x0D: "request_key_update", 0x0E: "update_key_set", 0x0F: "update_distribution_key",
    0x10: "request_master_key", 0x11: "set_master_key", 0x12: "what_is_network_number",
    0x13: "network_number_is",
}
APDU_TYPES = {
    0: "confirmed_request", 1: "unconfirmed_request", 2: "simple_ack", 3: "complex_ack",
    4: "segment_ack", 5: "error", 6: "reject", 7: "abort",
}
CONFIRMED_SERVICES = {
    0: "acknowledge_alarm", 1: "confirmed_cov_notification", 2: "confirmed_event_notification",
    3: "get_alarm_summary", 4: "get_enrollment_summary", 5: "subscribe_cov",
    6: "atomic_read_file", 7: "atomic_write_file", 8: "add_list_element",
    9: "remove_list_element", 10: "create_object", 11: "delete_object", 12: "read_property",
    13: "read_property_conditional", 14: "read_property_multiple", 15: "write_property",
    16: "write_property_multiple", 17: "device_communication_control",
    18: "confirmed_private_transfer", 19: "confirmed_text_message", 20: "reinitialize_device",
    21: "vt_open", 22: "vt_close", 23: "vt_data", 24: "authenticate", 25: "request_key",
    26: "read_range", 27: "life_safety_operation", 28: "subscribe_cov_property",
    29: "get_event_information", 30: "subscribe_cov_property_multiple",
    31: "confirmed_cov_notification_multiple", 32: "confirmed_audit_notification",
    33: "audit_log_query",
}
UNCONFIRMED_SERVICES = {
    0: "i_am", 1: "i_have", 2: "unconfirmed_cov_notification",
    3: "unconfirmed_event_notification", 4: "unconfirmed_private_transfer",
    5: "unconfirmed_text_message", 6: "time_synchronization", 7: "who_has", 8: "who_is",
    9: "utc_time_synchronization", 10: "write_group",
    11: "unconfirmed_cov_notification_multiple", 12: "unconfirmed_audit_notification",
    13: "who_am_i", 14: "you_are",
}
OBJECT_TYPES = {
    0: "analog_input", 1: "analog_output", 2: "analog_value", 3: "binary_input",
    4: "binary_output", 5: "binary_value", 6: "calendar", 7: "command", 8: "device",
    9: "event_enrollment", 10: "file", 11: "group", 12: "loop", 13: "multi_state_input",
    14: "multi_state_output", 15: "notification_class", 16: "program", 17: "schedule",
    18: "averaging", 19: "multi_state_value", 20: "trend_log", 21: "life_safety_point",
    22: "life_safety_zone", 23: "accumulator", 24: "pulse_converter", 25: "event_log",
    26: "global_group", 27: "trend_log_multiple", 28: "load_control", 29: "structured_view",
    30: "access_door", 31: "timer", 32: "access_credential", 33: "access_point",
    34: "access_rights", 35: "access_user", 36: "access_zone", 37: "credential_data_input",
    38: "network_security", 39: "bitstring_value",
}
PROPERTIES = {
    4: "active_text", 8: "all", 11: "apdu_timeout", 12: "application_software_version",
    17: "notification_class", 22: "cov_increment", 24: "daylight_savings_status",
    28: "description", 30: "device_address_binding", 36: "event_state", 44: "firmware_revision",
    46: "inactive_text", 56: "local_date", 57: "local_time", 58: "location",
    62: "max_apdu_length_accepted", 65: "max_pres_value", 69: "min_pres_value",
    70: "model_name", 73: "number_of_apdu_retries", 74: "number_of_states",
    75: "object_identifier", 76: "object_list", 77: "object_name", 79: "object_type",
    80: "optional", 81: "out_of_service", 85: "present_value", 87: "priority_array",
    96: "protocol_object_types_supported", 97: "protocol_services_supported",
    98: "protocol_version", 103: "reliability", 104: "relinquish_default", 105: "required",
    107: "segmentation_supported", 110: "state_text", 111: "status_flags",
    112: "system_status", 117: "units", 119: "utc_offset", 120: "vendor_identifier",
    121: "vendor_name", 139: "protocol_revision", 155: "database_revision",
}
ERROR_CLASSES = {
    0: "device", 1: "object", 2: "property", 3: "resources", 4: "security", 5: "services",
    6: "vt", 7: "communication",
}
ERROR_CODES = {
    0: "other", 2: "configuration_in_progress", 3: "device_busy",
    4: "dynamic_creation_not_supported", 5: "file_access_denied",
    7: "inconsistent_parameters", 9: "invalid_data_type", 13: "invalid_parameter_data_type",
    16: "missing_required_parameter", 18: "no_space_for_object", 20: "no_space_to_write_property",
    23: "object_deletion_not_permitted", 24: "object_identifier_already_exists",
    25: "operational_problem", 26: "password_failure", 27: "read_access_denied",
    29: "service_request_denied", 30: "timeout", 31: "unknown_object", 32: "unknown_property",
    36: "unsupported_object_type", 37: "value_out_of_range", 40: "write_access_denied",
    41: "character_set_not_supported", 42: "invalid_array_index",
    45: "optional_functionality_not_supported", 47: "datatype_not_supported",
    50: "property_is_not_an_array",
}
REJECT_REASONS = {
    0: "other", 1: "buffer_overflow", 2: "inconsistent_parameters",
    3: "invalid_parameter_data_type", 4: "invalid_tag", 5: "missing_required_parameter",
    6: "parameter_out_of_range", 7: "too_many_arguments", 8: "undefined_enumeration",
    9: "unrecognized_service",
}
ABORT_REASONS = {
    0: "other", 1: "buffer_overflow", 2: "invalid_apdu_in_this_state",
    3: "preempted_by_higher_priority_task", 4: "segmentation_not_supported",
    5: "security_error", 6: "insufficient_security", 7: "window_size_out_of_range",
    8: "application_exceeded_reply_time", 9: "out_of_resources", 10: "tsm_timeout",
    11: "apdu_too_long",
}
SEGMENTATION = {0: "segmented_both", 1: "segmented_transmit", 2: "segmented_receive",
                3: "no_segmentation"}
REINITIALIZE_STATES = {0: "coldstart", 1: "warmstart", 2: "start_backup", 3: "end_backup",
                       4: "start_restore", 5: "end_restore", 6: "abort_restore",
                       7: "activate_changes"}
COMMUNICATION_STATES = {0: "enable", 1: "disable", 2: "disable_initiation"}
VENDORS = {
    0: "ashrae", 1: "nist", 2: "trane", 4: "polarsoft", 5: "johnson_controls", 7: "siemens",
    8: "delta_controls", 10: "schneider_electric", 15: "cornell_university", 17: "honeywell",
    18: "alerton", 24: "automated_logic", 28: "kmc_controls", 35: "reliable_controls",
    36: "tridium", 260: "bacnet_stack_at_sourceforge",
}
APPLICATION_TAGS = {
    0: "null", 1: "boolean", 2: "unsigned", 3: "signed", 4: "real", 5: "double",
    6: "octet_string", 7: "character_string", 8: "bit_string", 9: "enumerated", 10: "date",
    11: "time", 12: "object_identifier",
}
CONFIRMED, UNCONFIRMED, SIMPLE_ACK, COMPLEX_ACK, SEGMENT_ACK, ERROR, REJECT, ABORT = range(8)
READ_PROPERTY, WRITE_PROPERTY, DCC, REINITIALIZE = 12, 15, 17, 20
I_AM, WHO_IS = 0, 8


class Anomaly(StrEnum):
    BAD_BVLC_TYPE = "bacnet_bad_bvlc_type"
    BAD_BVLC_LENGTH = "bacnet_bad_bvlc_length"
    LENGTH_MISMATCH = "bacnet_bvlc_length_mismatch"   # flags on messages that did parse
    TRUNCATED = "bacnet_truncated"


@dataclass(slots=True)
class BacnetPdu:
    function: int
    length: int
    bvlc: dict[str, Any] = field(default_factory=dict)
    npdu: dict[str, Any] = field(default_factory=dict)
    apdu: dict[str, Any] = field(default_factory=dict)
    anomaly: str | None = None


def probe(payload: bytes) -> bool | None:
    if len(payload) < BVLC_HEADER:
        return None
    length = struct.unpack_from(">H", payload, 2)[0]
    return payload[0] == BVLC_TYPE and payload[1] in BVLC_FUNCTIONS and length >= BVLC_HEADER


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < BVLC_HEADER:
        return NeedMore(BVLC_HEADER)
    if buf[0] != BVLC_TYPE:
        return Malformed(Anomaly.BAD_BVLC_TYPE)
    length = struct.unpack_from(">H", buf, 2)[0]
    if length < BVLC_HEADER:
        return Malformed(Anomaly.BAD_BVLC_LENGTH)
    # A datagram holds one message: when the BVLC length disagrees, the datagram wins.
    pdu = BacnetPdu(buf[1], length)
    if length != len(buf):
        pdu.anomaly = Anomaly.LENGTH_MISMATCH
    try:
        _decode_bvlc(pdu, Reader(buf[BVLC_HEADER:]))
    except Truncated:
        pdu.anomaly = Anomaly.TRUNCATED
    return Parsed(pdu, len(buf))


def _decode_bvlc(pdu: BacnetPdu, reader: Reader) -> None:
    if pdu.function == 0x00:
        result = reader.uint(2)
        pdu.bvlc |= {"result": result, "result_name": code_name(BVLC_RESULTS, result)}
    elif pdu.function in (0x04, 0x08):
        address = reader.take(6)
        pdu.bvlc["address"] = f"{'.'.join(map(str, address[:4]))}:{address[4] << 8 | address[5]}"
    elif pdu.function == 0x05:
        pdu.bvlc["ttl"] = reader.uint(2)
    if pdu.function in NPDU_FUNCTIONS:
        _decode_npdu(pdu, reader)


def _decode_npdu(pdu: BacnetPdu, reader: Reader) -> None:
    npdu = pdu.npdu
    npdu["version"], control = reader.u8(), reader.u8()
    npdu |= {"control": control, "expecting_reply": bool(control & 0x04),
             "priority": control & 0x03}
    if control & 0x20:
        npdu["destination_network"], npdu["destination_address"] = _network_address(reader)
    if control & 0x08:
        npdu["source_network"], npdu["source_address"] = _network_address(reader)
    if control & 0x20:
        npdu["hop_count"] = reader.u8()
    if control & 0x80:
        message = reader.u8()
        npdu |= {"network_message": message,
                 "network_message_name": code_name(NETWORK_MESSAGES, message)}
    else:
        _decode_apdu(pdu.apdu, reader)


def _network_address(reader: Reader) -> tuple[int, str]:
    network = reader.uint(2)
    return network, reader.take(reader.u8()).hex()


# APDU ----------------------------------------------------------------------------------------


def _decode_apdu(apdu: dict[str, Any], reader: Reader) -> None:
    first = reader.u8()
    kind = first >> 4
    apdu |= {"apdu_type": kind, "apdu_type_name": code_name(APDU_TYPES, kind)}
    if kind == CONFIRMED:
        _confirmed_request(apdu, reader, first)
    elif kind == UNCONFIRMED:
        _service(apdu, reader.u8(), UNCONFIRMED_SERVICES)
        _unconfirmed_parameters(apdu, reader)
    elif kind in (SIMPLE_ACK, COMPLEX_ACK, ERROR):
        _acknowledgement(apdu, reader, first)
    elif kind == SEGMENT_ACK:
        apdu |= {"negative_ack": bool(first & 0x02), "server": bool(first & 0x01),
                 "invoke_id": reader.u8(), "sequence_number": reader.u8(),
                 "window_size": reader.u8()}
    elif kind in (REJECT, ABORT):
        _reject_or_abort(apdu, reader, first)


def _service(apdu: dict[str, Any], choice: int, names: dict[int, str]) -> None:
    apdu |= {"service": choice, "service_name": code_name(names, choice)}


def _segmentation(apdu: dict[str, Any], reader: Reader, first: int) -> bool:
    """Read the segment header if any; whether the service parameters start here."""
    apdu |= {"segmented": bool(first & 0x08), "more_follows": bool(first & 0x04)}
    if not first & 0x08:
        return True
    apdu["sequence_number"], apdu["window_size"] = reader.u8(), reader.u8()
    return apdu["sequence_number"] == 0


def _confirmed_request(apdu: dict[str, Any], reader: Reader, first: int) -> None:
    apdu["segmented_response_accepted"] = bool(first & 0x02)
    apdu["max_apdu"] = reader.u8() & 0x0F
    apdu["invoke_id"] = reader.u8()
    whole = _segmentation(apdu, reader, first)
    _service(apdu, reader.u8(), CONFIRMED_SERVICES)
    if whole:
        _confirmed_parameters(apdu, reader)


def _acknowledgement(apdu: dict[str, Any], reader: Reader, first: int) -> None:
    apdu["invoke_id"] = reader.u8()
    whole = _segmentation(apdu, reader, first) if first >> 4 == COMPLEX_ACK else True
    _service(apdu, reader.u8(), CONFIRMED_SERVICES)
    if first >> 4 == ERROR:
        _error(apdu, reader)
    elif first >> 4 == COMPLEX_ACK and whole and apdu["service"] == READ_PROPERTY:
        _property_reference(apdu, reader)


def _reject_or_abort(apdu: dict[str, Any], reader: Reader, first: int) -> None:
    if first >> 4 == ABORT:
        apdu["server"] = bool(first & 0x01)
    apdu["invoke_id"], reason = reader.u8(), reader.u8()
    names = REJECT_REASONS if first >> 4 == REJECT else ABORT_REASONS
    apdu |= {"reason": reason, "reason_name": code_name(names, reason)}


def _error(apdu: dict[str, Any], reader: Reader) -> None:
    tag = read_tag(reader)
    if tag.opening:                      # some services wrap the error in a context tag
        tag = read_tag(reader)
    error_class = _unsigned(tag.data)
    error_code = _unsigned(read_tag(reader).data)
    apdu |= {"error_class": error_class, "error_class_name": code_name(ERROR_CLASSES, error_class),
             "error_code": error_code, "error_code_name": code_name(ERROR_CODES, error_code)}


def _confirmed_parameters(apdu: dict[str, Any], reader: Reader) -> None:
    service = apdu["service"]
    if service in (READ_PROPERTY, WRITE_PROPERTY):
        _property_reference(apdu, reader)
    elif service == REINITIALIZE:
        state = _unsigned(read_tag(reader).data)
        apdu |= {"reinitialize_state": state,
                 "reinitialize_state_name": code_name(REINITIALIZE_STATES, state),
                 "password_present": _has_context_tag(reader, 1)}
    elif service == DCC:
        _communication_control(apdu, reader)


def _communication_control(apdu: dict[str, Any], reader: Reader) -> None:
    tag = read_tag(reader)
    if tag.number == 0:
        apdu["duration"] = _unsigned(tag.data)
        tag = read_tag(reader)
    state = _unsigned(tag.data)
    apdu |= {"communication_state": state,
             "communication_state_name": code_name(COMMUNICATION_STATES, state),
             "password_present": _has_context_tag(reader, 2)}


def _unconfirmed_parameters(apdu: dict[str, Any], reader: Reader) -> None:
    if apdu["service"] == WHO_IS and reader.left:
        apdu["low_limit"] = _unsigned(read_tag(reader).data)
        apdu["high_limit"] = _unsigned(read_tag(reader).data)
    elif apdu["service"] == I_AM:
        _object_identifier(apdu, read_tag(reader).data)
        apdu["max_apdu_accepted"] = _unsigned(read_tag(reader).data)
        segmentation = _unsigned(read_tag(reader).data)
        vendor = _unsigned(read_tag(reader).data)
        apdu |= {"segmentation": segmentation,
                 "segmentation_name": code_name(SEGMENTATION, segmentation),
                 "vendor_id": vendor, "vendor_name": code_name(VENDORS, vendor)}


def _property_reference(apdu: dict[str, Any], reader: Reader) -> None:
    """Object, property and array index; then the value and priority of a write."""
    _object_identifier(apdu, read_tag(reader).data)
    prop = _unsigned(read_tag(reader).data)
    apdu |= {"property_id": prop, "property_name": code_name(PROPERTIES, prop)}
    tag = read_tag(reader) if reader.left else None
    if tag is not None and tag.number == 2 and not tag.opening:
        apdu["array_index"] = _unsigned(tag.data)
        tag = read_tag(reader) if reader.left else None
    if tag is not None and tag.opening and tag.number == 3:
        _first_value(apdu, reader)
        _skip_to_closing(reader)
        tag = read_tag(reader) if reader.left else None
        if tag is not None and tag.number == 4 and tag.context:
            apdu["priority"] = _unsigned(tag.data)


def _first_value(apdu: dict[str, Any], reader: Reader) -> None:
    if reader.peek() is None:
        return
    start = reader.pos
    tag = read_tag(reader)
    if tag.context or tag.opening or tag.closing:
        reader.pos = start
        return
    apdu |= {"value_tag": tag.number, "value_tag_name": code_name(APPLICATION_TAGS, tag.number)}
    value = application_value(tag)
    if value is not None:
        apdu["value"] = value


def _skip_to_closing(reader: Reader) -> None:
    """Past the closing tag that matches an opening one already read."""
    depth = 1
    while depth:
        tag = read_tag(reader)
        depth += 1 if tag.opening else -1 if tag.closing else 0


def _has_context_tag(reader: Reader, number: int) -> bool:
    while reader.left:
        if read_tag(reader).number == number:
            return True
    return False


def _object_identifier(apdu: dict[str, Any], data: bytes) -> None:
    value = _unsigned(data)
    kind, instance = value >> 22, value & 0x3FFFFF
    apdu |= {"object_type": kind, "object_type_name": code_name(OBJECT_TYPES, kind),
             "object_instance": instance}


def _unsigned(data: bytes) -> int:
    return int.from_bytes(data, "big")


# Tags ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tag:
    number: int
    context: bool
    data: bytes = b""
    opening: bool = False
    closing: bool = False
    flag: int = 0                          # the length/value/type bits (a boolean's value)


def read_tag(reader: Reader) -> Tag:
    first = reader.u8()
    number, context, lvt = first >> 4, bool(first & 0x08), first & 0x07
    if number == 15:
        number = reader.u8()
    if context and lvt in (6, 7):
        return Tag(number, True, opening=lvt == 6, closing=lvt == 7)
    if not context and number == 1:
        return Tag(number, False, flag=lvt)
    size = lvt
    if lvt == 5:
        size = reader.u8()
        size = reader.uint(2) if size == 254 else reader.uint(4) if size == 255 else size
    return Tag(number, context, reader.take(size), flag=lvt)


def application_value(tag: Tag) -> str | None:
    """A simple application-tagged value as text (the types differ, the field is one)."""
    data = tag.data
    if tag.number == 1:
        return "true" if tag.flag else "false"
    if tag.number in (2, 9):
        return str(_unsigned(data))
    if tag.number == 3:
        return str(int.from_bytes(data, "big", signed=True))
    if tag.number == 4 and len(data) == 4:
        return repr(struct.unpack(">f", data)[0])
    if tag.number == 5 and len(data) == 8:
        return repr(struct.unpack(">d", data)[0])
    if tag.number == 7 and data:
        return data[1:].decode("utf-8" if data[0] == 0 else "latin-1", "replace")
    if tag.number in (6, 8, 10, 11):
        return data.hex()
    if tag.number == 12:
        value = _unsigned(data)
        return f"{code_name(OBJECT_TYPES, value >> 22)}:{value & 0x3FFFFF}"
    return None


# Events --------------------------------------------------------------------------------------


def to_event(pdu: BacnetPdu, state: None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "bvlc_function": pdu.function,
        "bvlc_function_name": code_name(BVLC_FUNCTIONS, pdu.function),
        "bvlc_length": pdu.length,
    }
    fields |= {f"bvlc_{name}": value for name, value in pdu.bvlc.items()}
    if pdu.npdu:
        fields["npdu"] = pdu.npdu
    fields |= pdu.apdu
    if pdu.anomaly:
        fields["anomaly"] = str(pdu.anomaly)
    return {"network": {"protocol": "bacnet"}, "bacnet": fields}


ANALYZER = AnalyzerSpec(
    name="bacnet", transport="udp", ports=(47808,), probe=probe, parse=parse_pdu,
    to_event=to_event,
)
