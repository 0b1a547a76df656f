"""EtherNet/IP encapsulation and the CIP messages it carries (TCP and UDP 44818, I/O on UDP 2222).

One event per encapsulation PDU (and per class 0/1 I/O datagram), with ``enip.*`` for the
encapsulation and its Common Packet Format items and ``cip.*`` for an explicit CIP message:
service, request path, status, Unconnected Send unwrapped, Multiple Service Packet members as
parallel lists and the connection parameters of Forward Open/Close. Responses borrow the path of
their request (paired by CIP sequence count or sender context), which CIP replies do not repeat.

>>> raw = bytes.fromhex("6500 0400 00000000 00000000 0000000000000000 00000000 0100 0000")
>>> result = parse_tcp(raw, to_server=True)
>>> result.consumed, result.pdu.command
(28, 101)
>>> to_event(result.pdu, new_state())["enip"]["command_name"]
'register_session'
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name
from sensor.codecs.reader import Reader, Truncated

HEADER = struct.Struct("<HHII8sI")
MAX_DATA = 65_535 - HEADER.size
SEND_RR_DATA, SEND_UNIT_DATA, LIST_IDENTITY, REGISTER_SESSION = 0x6F, 0x70, 0x63, 0x65

COMMAND_NAMES = {
    0x00: "nop", 0x04: "list_services", 0x63: "list_identity", 0x64: "list_interfaces",
    0x65: "register_session", 0x66: "unregister_session", 0x6F: "send_rr_data",
    0x70: "send_unit_data", 0x72: "indicate_status", 0x73: "cancel",
    0x01: "legacy", 0x02: "legacy", 0x03: "legacy",    # reserved for legacy use, still seen
}
STATUS_NAMES = {
    0x00: "success", 0x01: "invalid_or_unsupported_command", 0x02: "insufficient_memory",
    0x03: "incorrect_data", 0x64: "invalid_session_handle", 0x65: "invalid_length",
    0x69: "unsupported_protocol_revision",
}
ITEM_NULL_ADDRESS, ITEM_LIST_IDENTITY, ITEM_CONNECTED_ADDRESS = 0x0000, 0x000C, 0x00A1
ITEM_CONNECTED_DATA, ITEM_UNCONNECTED_DATA, ITEM_SEQUENCED_ADDRESS = 0x00B1, 0x00B2, 0x8002
MAX_ITEMS = 16
PENDING_LIMIT = 256


class Anomaly(StrEnum):
    INVALID_LENGTH = "enip_invalid_length"
    TRUNCATED_DATAGRAM = "enip_truncated_datagram"
    BAD_IO_ITEMS = "enip_bad_io_items"
    CPF_TRUNCATED = "enip_cpf_truncated"      # a flag on a PDU that did parse


@dataclass(slots=True)
class EnipPdu:
    command: int | None                     # None for a class 0/1 I/O datagram (no header)
    length: int = 0
    session_handle: int = 0
    status: int = 0
    sender_context: bytes = b""
    to_server: bool = True
    item_types: list[int] = field(default_factory=list)
    connection_id: int | None = None
    sequence: int | None = None             # the encapsulation sequence (sequenced address)
    cip_sequence: int | None = None         # the sequence count of connected data
    protocol_version: int | None = None
    identity: dict[str, Any] | None = None
    cip: CipMessage | None = None
    io_data_length: int | None = None
    anomaly: str | None = None


def probe(payload: bytes) -> bool | None:
    """A plausible encapsulation header: a known command and a length that fits."""
    if len(payload) < HEADER.size:
        return None
    command, length, *_ = HEADER.unpack_from(payload)
    return command in COMMAND_NAMES and length <= MAX_DATA


def probe_io(payload: bytes) -> bool | None:
    """A class 0/1 I/O datagram: a sequenced address item followed by a connected data item."""
    if len(payload) < 16:
        return None
    count, first, first_length = struct.unpack_from("<HHH", payload)
    return 2 <= count <= 4 and first == ITEM_SEQUENCED_ADDRESS and first_length == 8


def parse_tcp(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < HEADER.size:
        return NeedMore(HEADER.size)
    length = HEADER.unpack_from(buf)[1]
    if length > MAX_DATA:
        return Malformed(Anomaly.INVALID_LENGTH)
    if len(buf) < HEADER.size + length:
        return NeedMore(HEADER.size + length)
    return Parsed(decode_pdu(buf, to_server), HEADER.size + length)


def parse_udp(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < HEADER.size or len(buf) < HEADER.size + HEADER.unpack_from(buf)[1]:
        return Malformed(Anomaly.TRUNCATED_DATAGRAM)
    return parse_tcp(buf, to_server)


def parse_io(buf: bytes, to_server: bool) -> ParseResult:
    pdu = EnipPdu(command=None, to_server=to_server)
    try:
        for kind, body in _cpf_items(Reader(buf, "little")):
            _read_io_item(pdu, kind, body)
    except Truncated:
        return Malformed(Anomaly.BAD_IO_ITEMS)
    if pdu.connection_id is None or pdu.io_data_length is None:
        return Malformed(Anomaly.BAD_IO_ITEMS)
    return Parsed(pdu, len(buf))


def _read_io_item(pdu: EnipPdu, kind: int, body: bytes) -> None:
    pdu.item_types.append(kind)
    if kind == ITEM_SEQUENCED_ADDRESS and len(body) >= 8:
        pdu.connection_id, pdu.sequence = struct.unpack_from("<II", body)
    elif kind == ITEM_CONNECTED_DATA:
        pdu.io_data_length = len(body)


def decode_pdu(buf: bytes, to_server: bool) -> EnipPdu:
    """The encapsulation header and what its command carries (``buf`` holds the whole PDU)."""
    command, length, session, status, context, _ = HEADER.unpack_from(buf)
    pdu = EnipPdu(command, length, session, status, context, to_server)
    data = Reader(buf[HEADER.size:HEADER.size + length], "little")
    try:
        _decode_command_data(pdu, data)
    except Truncated:
        pdu.anomaly = Anomaly.CPF_TRUNCATED
    return pdu


def _decode_command_data(pdu: EnipPdu, data: Reader) -> None:
    if pdu.command == REGISTER_SESSION and data.left >= 2:
        pdu.protocol_version = data.u16()
    elif pdu.command in (SEND_RR_DATA, SEND_UNIT_DATA) and data.left:
        data.skip(6)                                        # interface handle, timeout
        _decode_items(pdu, _cpf_items(data))
    elif pdu.command == LIST_IDENTITY and data.left:
        _decode_items(pdu, _cpf_items(data))


def _cpf_items(data: Reader) -> list[tuple[int, bytes]]:
    count = data.u16()
    items = []
    for _ in range(min(count, MAX_ITEMS)):
        kind, length = data.u16(), data.u16()
        items.append((kind, data.take(length)))
    return items


def _decode_items(pdu: EnipPdu, items: list[tuple[int, bytes]]) -> None:
    for kind, body in items:
        pdu.item_types.append(kind)
        if kind == ITEM_CONNECTED_ADDRESS and len(body) >= 4:
            pdu.connection_id = struct.unpack_from("<I", body)[0]
        elif kind == ITEM_SEQUENCED_ADDRESS and len(body) >= 8:
            pdu.connection_id, pdu.sequence = struct.unpack_from("<II", body)
        elif kind == ITEM_CONNECTED_DATA and len(body) >= 2:
            pdu.cip_sequence = struct.unpack_from("<H", body)[0]
            pdu.cip = decode_cip(body[2:])
        elif kind == ITEM_UNCONNECTED_DATA and body:
            pdu.cip = decode_cip(body)
        elif kind == ITEM_LIST_IDENTITY and pdu.identity is None:
            pdu.identity = identity_fields(body)


# CIP ------------------------------------------------------------------------------------------

SERVICE_NAMES = {
    0x01: "get_attributes_all", 0x02: "set_attributes_all", 0x03: "get_attribute_list",
    0x04: "set_attribute_list", 0x05: "reset", 0x06: "start", 0x07: "stop", 0x08: "create",
    0x09: "delete", 0x0A: "multiple_service_packet", 0x0D: "apply_attributes",
    0x0E: "get_attribute_single", 0x10: "set_attribute_single",
    0x11: "find_next_object_instance", 0x14: "error_response", 0x15: "restore", 0x16: "save",
    0x17: "nop", 0x18: "get_member", 0x19: "set_member", 0x1A: "insert_member",
    0x1B: "remove_member", 0x1C: "group_sync",
}
CONNECTION_MANAGER_SERVICES = {
    0x4E: "forward_close", 0x52: "unconnected_send", 0x54: "forward_open",
    0x56: "get_connection_data", 0x57: "search_connection_data", 0x5A: "get_connection_owner",
    0x5B: "large_forward_open",
}
PCCC_SERVICES = {0x4B: "execute_pccc"}
LOGIX_SERVICES = {
    0x4C: "read_tag", 0x4D: "write_tag", 0x4E: "read_modify_write_tag",
    0x52: "read_tag_fragmented", 0x53: "write_tag_fragmented",
    0x55: "get_instance_attribute_list",
}
CLASS_NAMES = {
    0x01: "identity", 0x02: "message_router", 0x03: "devicenet", 0x04: "assembly",
    0x05: "connection", 0x06: "connection_manager", 0x07: "register", 0x0F: "parameter",
    0x37: "file", 0x43: "time_sync", 0x48: "qos", 0x4D: "safety_supervisor",
    0x67: "pccc", 0x6B: "symbol", 0x6C: "template", 0x8B: "wall_clock_time",
    0xF4: "port", 0xF5: "tcp_ip_interface", 0xF6: "ethernet_link",
}
GENERAL_STATUS_NAMES = {
    0x00: "success", 0x01: "connection_failure", 0x02: "resource_unavailable",
    0x03: "invalid_parameter_value", 0x04: "path_segment_error",
    0x05: "path_destination_unknown", 0x06: "partial_transfer", 0x07: "connection_lost",
    0x08: "service_not_supported", 0x09: "invalid_attribute_value",
    0x0A: "attribute_list_error", 0x0B: "already_in_requested_mode",
    0x0C: "object_state_conflict", 0x0D: "object_already_exists",
    0x0E: "attribute_not_settable", 0x0F: "privilege_violation", 0x10: "device_state_conflict",
    0x11: "reply_data_too_large", 0x12: "fragmentation_of_a_primitive_value",
    0x13: "not_enough_data", 0x14: "attribute_not_supported", 0x15: "too_much_data",
    0x16: "object_does_not_exist", 0x17: "service_fragmentation_sequence_not_in_progress",
    0x18: "no_stored_attribute_data", 0x19: "store_operation_failure",
    0x1A: "routing_failure_request_too_large", 0x1B: "routing_failure_response_too_large",
    0x1C: "missing_attribute_list_entry_data", 0x1D: "invalid_attribute_value_list",
    0x1E: "embedded_service_error", 0x1F: "vendor_specific_error", 0x20: "invalid_parameter",
    0x21: "write_once_value_already_written", 0x22: "invalid_reply_received",
    0x25: "key_failure_in_path", 0x26: "path_size_invalid", 0x27: "unexpected_attribute",
    0x28: "invalid_member_id", 0x29: "member_not_settable",
}
VENDOR_NAMES = {
    1: "rockwell_automation", 5: "rockwell_automation_reliance", 8: "molex", 26: "festo",
    40: "wago", 47: "omron", 48: "turck", 82: "mitsubishi_electric_automation", 90: "hms",
    108: "beckhoff", 145: "siemens", 161: "mitsubishi_electric", 176: "red_lion",
    243: "schneider_electric", 250: "yokogawa", 309: "prosoft", 367: "keyence",
    562: "phoenix_contact",
}
DEVICE_TYPE_NAMES = {
    0: "generic_device", 2: "ac_drive", 3: "motor_overload", 7: "general_purpose_discrete_io",
    12: "communications_adapter", 14: "programmable_logic_controller",
    19: "dc_drive", 22: "motor_starter", 24: "human_machine_interface", 34: "encoder",
    35: "safety_discrete_io", 37: "cip_motion_drive", 43: "generic_device_keyable",
    44: "managed_ethernet_switch",
}
LOGICAL_KINDS = {0: "class", 1: "instance", 2: "member", 3: "connection_point", 4: "attribute"}
MESSAGE_ROUTER, CONNECTION_MANAGER, PCCC_CLASS = 0x02, 0x06, 0x67
MULTIPLE_SERVICE, UNCONNECTED_SEND = 0x0A, 0x52
FORWARD_OPENS, FORWARD_CLOSE = (0x54, 0x5B), 0x4E
MAX_MEMBERS = 64
MAX_DEPTH = 2
CIP_TRUNCATED = "cip_truncated"


@dataclass(slots=True)
class CipPath:
    ids: dict[str, int] = field(default_factory=dict)      # first class, instance, ... met
    symbol: str | None = None                               # ANSI symbolic segments, a tag name
    port: int | None = None
    link: str | None = None
    parts: list[str] = field(default_factory=list)
    complete: bool = True

    @property
    def text(self) -> str:
        return "/".join(self.parts)


@dataclass(slots=True)
class CipMessage:
    service: int
    is_response: bool
    path: CipPath | None = None
    general_status: int | None = None
    extended_status: list[int] = field(default_factory=list)
    data: bytes = b""
    members: list[CipMessage] = field(default_factory=list)   # Multiple Service Packet
    embedded: CipMessage | None = None                         # Unconnected Send
    route: CipPath | None = None
    anomaly: str | None = None

    @property
    def class_id(self) -> int | None:
        return self.path.ids.get("class") if self.path else None


def decode_path(raw: bytes) -> CipPath:
    """An EPATH: logical, symbolic, port, data and network segments."""
    path, reader = CipPath(), Reader(raw, "little")
    try:
        while reader.left:
            _read_segment(path, reader)
    except Truncated:
        path.complete = False
    return path


def _read_segment(path: CipPath, reader: Reader) -> None:
    kind = reader.u8()
    if kind & 0xE0 == 0x20:
        _read_logical(path, reader, kind)
    elif kind == 0x91:
        _read_symbol(path, reader)
    elif kind & 0xE0 == 0x00:
        _read_port(path, reader, kind)
    elif kind == 0x80:
        reader.skip(2 * reader.u8())
    elif kind & 0xF0 == 0x40:
        reader.skip(1)
    elif kind & 0xF0 == 0x50:
        reader.skip(2 * reader.u8())
    else:
        raise Truncated(kind)              # a reserved segment type: the rest cannot be read


def _read_logical(path: CipPath, reader: Reader, kind: int) -> None:
    logical_type, value_format = (kind >> 2) & 7, kind & 3
    if logical_type == 5:                  # electronic key: format byte and 8 bytes of key
        reader.skip(9)
        return
    if value_format == 0:
        value = reader.u8()
    elif value_format in (1, 2):
        reader.skip(1)                     # pad byte of a padded EPATH
        value = reader.u16() if value_format == 1 else reader.u32()
    else:
        raise Truncated(kind)
    name = LOGICAL_KINDS.get(logical_type, f"logical_{logical_type}")
    path.ids.setdefault(name, value)
    path.parts.append(f"{name}={value:#x}")
    if name == "member" and path.symbol is not None:
        path.symbol += f"[{value}]"


def _read_symbol(path: CipPath, reader: Reader) -> None:
    size = reader.u8()
    name = reader.take(size).decode("latin-1")
    reader.skip(min(size & 1, reader.left))
    path.symbol = name if path.symbol is None else f"{path.symbol}.{name}"
    path.parts.append(f"symbol={name}")


def _read_port(path: CipPath, reader: Reader, kind: int) -> None:
    extended_link = kind & 0x10
    link_size = reader.u8() if extended_link else 1
    port = reader.u16() if kind & 0x0F == 0x0F else kind & 0x0F
    if extended_link:
        link = reader.take(link_size).decode("latin-1")
        reader.skip(min(link_size & 1, reader.left))
    else:
        link = str(reader.u8())
    if path.port is None:
        path.port, path.link = port, link
    path.parts.append(f"port={port},link={link}")


def decode_cip(body: bytes, depth: int = 0) -> CipMessage:
    """One explicit CIP message, request or response; never raises."""
    if not body:
        return CipMessage(0, False, anomaly=CIP_TRUNCATED)
    message = CipMessage(body[0] & 0x7F, bool(body[0] & 0x80))
    reader = Reader(body, "little")
    reader.skip(1)
    try:
        if message.is_response:
            _read_response(message, reader, depth)
        else:
            _read_request(message, reader, depth)
    except Truncated:
        message.anomaly = CIP_TRUNCATED
    return message


def _read_request(message: CipMessage, reader: Reader, depth: int) -> None:
    message.path = decode_path(reader.take(2 * reader.u8()))
    message.data = reader.take(reader.left)
    if depth >= MAX_DEPTH:
        return
    if message.service == MULTIPLE_SERVICE and message.class_id == MESSAGE_ROUTER:
        message.members = _members(message.data, depth)
    elif message.service == UNCONNECTED_SEND and message.class_id == CONNECTION_MANAGER:
        _unwrap_unconnected_send(message, Reader(message.data, "little"), depth)


def _read_response(message: CipMessage, reader: Reader, depth: int) -> None:
    reader.skip(1)                                          # reserved
    message.general_status = reader.u8()
    message.extended_status = [reader.u16() for _ in range(reader.u8())]
    message.data = reader.take(reader.left)
    if message.service == MULTIPLE_SERVICE and depth < MAX_DEPTH and message.data:
        message.members = _members(message.data, depth)


def _members(data: bytes, depth: int) -> list[CipMessage]:
    reader = Reader(data, "little")
    count = reader.u16()
    offsets = [reader.u16() for _ in range(min(count, MAX_MEMBERS))]
    ends = [*offsets[1:], len(data)]
    return [decode_cip(data[start:end], depth + 1)
            for start, end in zip(offsets, ends, strict=True)]


def _unwrap_unconnected_send(message: CipMessage, reader: Reader, depth: int) -> None:
    reader.skip(2)                                          # priority/tick time, timeout ticks
    size = reader.u16()
    message.embedded = decode_cip(reader.take(size), depth + 1)
    reader.skip(min(size & 1, reader.left))
    route_words = reader.u8()
    reader.skip(1)
    message.route = decode_path(reader.take(2 * route_words))


def service_name(service: int, class_id: int | None) -> str:
    """Services from 0x4B up are defined per object class."""
    if service < 0x4B:
        return code_name(SERVICE_NAMES, service)
    if class_id == CONNECTION_MANAGER:
        return code_name(CONNECTION_MANAGER_SERVICES, service)
    if class_id == PCCC_CLASS:
        return code_name(PCCC_SERVICES, service)
    return code_name(LOGIX_SERVICES, service)


def identity_fields(body: bytes) -> dict[str, Any] | None:
    """The CIP identity of a ListIdentity response item."""
    reader = Reader(body, "little")
    try:
        version = reader.u16()
        _, port = struct.unpack(">HH", reader.take(4))
        address = ".".join(map(str, reader.take(4)))
        reader.skip(8)
        vendor, device_type, product_code = reader.u16(), reader.u16(), reader.u16()
        major, minor, status, serial = reader.u8(), reader.u8(), reader.u16(), reader.u32()
        name = reader.take(reader.u8()).decode("latin-1")
        state = reader.u8() if reader.left else None
    except Truncated:
        return None
    fields = {
        "protocol_version": version, "socket_address": address, "socket_port": port,
        "vendor_id": vendor, "vendor_name": code_name(VENDOR_NAMES, vendor),
        "device_type": device_type, "device_type_name": code_name(DEVICE_TYPE_NAMES, device_type),
        "product_code": product_code, "revision": f"{major}.{minor}", "status": status,
        "serial_number": f"0x{serial:08x}", "product_name": name,
    }
    return fields | ({"state": state} if state is not None else {})


def _target(message: CipMessage, request: CipMessage | None) -> CipMessage | None:
    """The request that names what ``message`` is about (its path and object class)."""
    if not message.is_response:
        return message.embedded or message
    if request is not None and request.embedded is not None \
            and request.embedded.service == message.service:
        return request.embedded
    return request


def message_fields(message: CipMessage, request: CipMessage | None) -> dict[str, Any]:
    """The ``cip.*`` fields of a message; ``request`` is the one a response answers, if known."""
    target = _target(message, request)
    shown = message.embedded or message
    class_id = target.class_id if target else None
    fields: dict[str, Any] = {"service": shown.service,
                              "service_name": service_name(shown.service, class_id),
                              "is_response": message.is_response}
    if target is not None and target.path is not None:
        fields |= _path_fields(target.path)
    if message.is_response:
        fields |= _status_fields(message)
    carrier = request if message.is_response else message
    if carrier is not None and carrier.embedded is not None and target is carrier.embedded:
        fields |= _unconnected_send_fields(carrier)
    if message.members:
        fields["msp"] = _member_fields(message.members, request)
    connection = connection_fields(message, class_id)
    if connection:
        fields["connection"] = connection
    anomaly = shown.anomaly or message.anomaly
    return fields | ({"anomaly": anomaly} if anomaly else {})


def _path_fields(path: CipPath) -> dict[str, Any]:
    names = {"class": "class_id", "instance": "instance_id", "attribute": "attribute_id",
             "member": "member_id", "connection_point": "connection_point"}
    fields: dict[str, Any] = {names[k]: v for k, v in path.ids.items() if k in names}
    if "class" in path.ids:
        fields["class_name"] = code_name(CLASS_NAMES, path.ids["class"])
    if path.symbol is not None:
        fields["symbol"] = path.symbol
    if path.parts:
        fields["path"] = path.text
    return fields


def _status_fields(message: CipMessage) -> dict[str, Any]:
    status = message.general_status
    if status is None:
        return {}
    fields: dict[str, Any] = {"general_status": status,
                              "status_name": code_name(GENERAL_STATUS_NAMES, status)}
    if message.extended_status:
        fields["extended_status"] = message.extended_status
    return fields


def _unconnected_send_fields(message: CipMessage) -> dict[str, Any]:
    fields: dict[str, Any] = {"unconnected_send": True}
    if message.route is not None and message.route.port is not None:
        fields["route_port"], fields["route_link"] = message.route.port, message.route.link
    return fields


def _member_fields(members: list[CipMessage], request: CipMessage | None) -> dict[str, Any]:
    asked = request.members if request is not None else []
    targets = asked if len(asked) == len(members) else [None] * len(members)
    fields: dict[str, Any] = {
        "service": [m.service for m in members],
        "service_name": [service_name(m.service, (t or m).class_id)
                         for m, t in zip(members, targets, strict=True)],
    }
    paths = [(t or m).path for m, t in zip(members, targets, strict=True)]
    if all(p is not None for p in paths):
        fields["path"] = [_readable(p) for p in paths if p is not None]
    if members[0].is_response:
        fields["general_status"] = [m.general_status or 0 for m in members]
    return fields


def _readable(path: CipPath) -> str:
    return path.symbol if path.symbol is not None else path.text


def connection_fields(message: CipMessage, class_id: int | None) -> dict[str, Any] | None:
    """Connection ids, serials and RPIs of a Forward Open or Forward Close."""
    shown = message.embedded or message
    if class_id != CONNECTION_MANAGER and shown.service not in FORWARD_OPENS:
        return None
    reader = Reader(shown.data, "little")
    try:
        if shown.service in FORWARD_OPENS:
            return _forward_open(shown, reader)
        if shown.service == FORWARD_CLOSE:
            return _forward_close(shown, reader)
    except Truncated:
        return None
    return None


def _forward_open(message: CipMessage, reader: Reader) -> dict[str, Any]:
    if not message.is_response:
        reader.skip(2)                                      # priority/tick time, timeout ticks
    elif message.general_status:
        return _connection_triad(reader)
    ids = {"o_t_connection_id": reader.u32(), "t_o_connection_id": reader.u32()}
    fields = ids | _connection_triad(reader)
    if message.is_response:
        return fields | {"o_t_api": reader.u32(), "t_o_api": reader.u32()}
    reader.skip(4)                                          # timeout multiplier, reserved
    parameter_size = 4 if message.service == 0x5B else 2
    fields["o_t_rpi"] = reader.u32()
    reader.skip(parameter_size)
    fields["t_o_rpi"] = reader.u32()
    reader.skip(parameter_size + 1)                         # parameters, transport class
    fields["path"] = decode_path(reader.take(2 * reader.u8())).text
    return fields


def _forward_close(message: CipMessage, reader: Reader) -> dict[str, Any]:
    if not message.is_response:
        reader.skip(2)
    fields = _connection_triad(reader)
    if not message.is_response:
        words = reader.u8()
        reader.skip(1)
        fields["path"] = decode_path(reader.take(2 * words)).text
    return fields


def _connection_triad(reader: Reader) -> dict[str, Any]:
    """Connection serial number, originator vendor id and originator serial number."""
    return {"serial": reader.u16(), "vendor_id": reader.u16(),
            "originator_serial": reader.u32()}


# Events --------------------------------------------------------------------------------------


class FlowState:
    """Requests awaiting their response, keyed by CIP sequence count or sender context."""

    def __init__(self) -> None:
        self.pending: OrderedDict[object, CipMessage] = OrderedDict()

    def remember(self, key: object, request: CipMessage) -> None:
        self.pending[key] = request
        self.pending.move_to_end(key)
        while len(self.pending) > PENDING_LIMIT:
            self.pending.popitem(last=False)

    def request_for(self, key: object) -> CipMessage | None:
        return self.pending.pop(key, None)


def new_state() -> FlowState:
    return FlowState()


def to_event(pdu: EnipPdu, state: FlowState | None) -> dict[str, Any]:
    event: dict[str, Any] = {"network": {"protocol": "enip"}, "enip": _enip_fields(pdu)}
    if pdu.cip is not None:
        request = _pair(pdu, state)
        event["cip"] = message_fields(pdu.cip, request)
    return event


def _pair(pdu: EnipPdu, state: FlowState | None) -> CipMessage | None:
    """The request a response answers (None for requests, or when it was not seen)."""
    if state is None or pdu.cip is None:
        return None
    key: object = pdu.cip_sequence if pdu.cip_sequence is not None else pdu.sender_context
    if not pdu.cip.is_response:
        state.remember(key, pdu.cip)
        return None
    return state.request_for(key)


def _enip_fields(pdu: EnipPdu) -> dict[str, Any]:
    fields: dict[str, Any] = {"is_response": not pdu.to_server}
    if pdu.command is not None:
        fields |= _header_fields(pdu)
    else:
        fields["io_data_length"] = pdu.io_data_length
    if pdu.item_types:
        fields["cpf_item_types"] = pdu.item_types
    optional = {"connection_id": pdu.connection_id, "sequence": pdu.sequence,
                "cip_sequence": pdu.cip_sequence, "protocol_version": pdu.protocol_version,
                "anomaly": pdu.anomaly and str(pdu.anomaly)}
    fields |= {name: value for name, value in optional.items() if value is not None}
    if pdu.identity:
        fields["identity"] = pdu.identity
    return fields


def _header_fields(pdu: EnipPdu) -> dict[str, Any]:
    assert pdu.command is not None
    return {
        "command": pdu.command,
        "command_name": code_name(COMMAND_NAMES, pdu.command),
        "length": pdu.length,
        "session_handle": pdu.session_handle,
        "status": pdu.status,
        "status_name": code_name(STATUS_NAMES, pdu.status),
        "sender_context": pdu.sender_context.hex(),
    }


ANALYZERS = (
    AnalyzerSpec(name="enip", transport="tcp", ports=(44818,), probe=probe, parse=parse_tcp,
                 to_event=to_event, max_pdu=HEADER.size + MAX_DATA, new_state=new_state),
    AnalyzerSpec(name="enip", transport="udp", ports=(44818,), probe=probe, parse=parse_udp,
                 to_event=to_event, max_pdu=HEADER.size + MAX_DATA, new_state=new_state),
    AnalyzerSpec(name="enip", transport="udp", ports=(2222,), probe=probe_io, parse=parse_io,
                 to_event=to_event, new_state=new_state),
)
