"""Modbus/TCP (MBAP header + PDU), requests and responses.

Requests and responses are paired per flow by transaction id, so a response carries the start
address and quantity its request asked for. Written and read register or coil values are kept
(at most :data:`MAX_VALUES` of them).

>>> result = parse_pdu(bytes.fromhex("0001 0000 0006 11 03 006b 0003"), to_server=True)
>>> result.consumed, result.pdu.function_code, result.pdu.unit_id
(12, 3, 17)
>>> fields = to_event(result.pdu, None)["modbus"]
>>> fields["function_name"], fields["address"], fields["quantity"]
('read_holding_registers', 107, 3)
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name

MBAP = struct.Struct(">HHHB")
MBAP_LEN = MBAP.size + 1  # with the function code
MAX_LENGTH = 254          # unit id + PDU (at most 253 bytes)
MAX_VALUES = 128          # register or coil values kept per event
MAX_PENDING = 64          # requests awaiting their response, per flow

FUNCTION_NAMES = {
    1: "read_coils", 2: "read_discrete_inputs", 3: "read_holding_registers",
    4: "read_input_registers", 5: "write_single_coil", 6: "write_single_register",
    7: "read_exception_status", 8: "diagnostics", 11: "get_comm_event_counter",
    12: "get_comm_event_log", 15: "write_multiple_coils", 16: "write_multiple_registers",
    17: "report_server_id", 20: "read_file_record", 21: "write_file_record",
    22: "mask_write_register", 23: "read_write_multiple_registers", 24: "read_fifo_queue",
    43: "encapsulated_interface_transport",
}
EXCEPTION_NAMES = {
    1: "illegal_function", 2: "illegal_data_address", 3: "illegal_data_value",
    4: "server_device_failure", 5: "acknowledge", 6: "server_device_busy",
    8: "memory_parity_error", 10: "gateway_path_unavailable",
    11: "gateway_target_device_failed_to_respond",
}
DIAGNOSTIC_NAMES = {
    0: "return_query_data", 1: "restart_communications_option",
    2: "return_diagnostic_register", 3: "change_ascii_input_delimiter",
    4: "force_listen_only_mode", 10: "clear_counters_and_diagnostic_register",
    11: "return_bus_message_count", 12: "return_bus_communication_error_count",
    13: "return_bus_exception_error_count", 14: "return_server_message_count",
    15: "return_server_no_response_count", 16: "return_server_nak_count",
    17: "return_server_busy_count", 18: "return_bus_character_overrun_count",
    20: "clear_overrun_counter_and_flag",
}
MEI_NAMES = {13: "can_open_general_reference", 14: "read_device_identification"}
DEVICE_OBJECTS = {
    0: "vendor_name", 1: "product_code", 2: "revision", 3: "vendor_url", 4: "product_name",
    5: "model_name", 6: "user_application_name",
}
BIT_READS, REGISTER_READS = frozenset({1, 2}), frozenset({3, 4})


class Anomaly(StrEnum):
    INVALID_PROTOCOL_ID = "modbus_invalid_protocol_id"
    INVALID_LENGTH = "modbus_invalid_length"


@dataclass(frozen=True, slots=True)
class ModbusPdu:
    transaction_id: int
    unit_id: int
    function_code: int
    is_response: bool
    length: int
    exception_code: int | None = None
    data: bytes = b""                      # the PDU after the function code


@dataclass(frozen=True, slots=True)
class Request:
    """What a response needs from its request."""

    function_code: int
    address: int | None
    quantity: int | None


@dataclass(slots=True)
class ModbusState:
    """Requests of one flow awaiting their response, by transaction id (oldest dropped first)."""

    pending: OrderedDict[int, Request] = field(default_factory=OrderedDict)

    def remember(self, transaction_id: int, request: Request) -> None:
        self.pending[transaction_id] = request
        self.pending.move_to_end(transaction_id)
        while len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)

    def answer(self, transaction_id: int, function_code: int) -> Request | None:
        request = self.pending.get(transaction_id)
        if request is None or request.function_code != function_code:
            return None
        del self.pending[transaction_id]
        return request


def probe(payload: bytes) -> bool | None:
    """A plausible MBAP header: protocol id 0 and a length that fits one Modbus PDU."""
    if len(payload) < MBAP_LEN:
        return None
    _, protocol_id, length, _ = MBAP.unpack_from(payload)
    return protocol_id == 0 and 2 <= length <= MAX_LENGTH


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < MBAP_LEN:
        return NeedMore(MBAP_LEN)
    transaction_id, protocol_id, length, unit_id = MBAP.unpack_from(buf)
    if protocol_id != 0:
        return Malformed(Anomaly.INVALID_PROTOCOL_ID)
    if not 2 <= length <= MAX_LENGTH:
        return Malformed(Anomaly.INVALID_LENGTH)
    total = MBAP.size - 1 + length
    if len(buf) < total:
        return NeedMore(total)
    function = buf[MBAP.size]
    exception = None
    if function & 0x80 and not to_server:
        exception = buf[MBAP.size + 1] if length >= 3 else 0
    data = bytes(buf[MBAP_LEN:total])
    pdu = ModbusPdu(transaction_id, unit_id, function & 0x7F, not to_server, length, exception,
                    data)
    return Parsed(pdu, total)


# --- function bodies (Modbus Application Protocol v1.1b3, section 6) ----------------------------

def words(data: bytes, offset: int = 0, count: int | None = None) -> list[int]:
    """Big-endian 16-bit values from ``offset``, at most ``count`` and :data:`MAX_VALUES`."""
    available = (len(data) - offset) // 2
    count = available if count is None else min(count, available)
    return list(struct.unpack_from(f">{count}H", data, offset))[:MAX_VALUES] if count > 0 else []


def bits(data: bytes, offset: int, count: int | None) -> list[int]:
    """Coil states (0 or 1), least significant bit first, at most ``count``."""
    packed = data[offset:]
    count = 8 * len(packed) if count is None else min(count, 8 * len(packed))
    return [(packed[i // 8] >> (i % 8)) & 1 for i in range(min(count, MAX_VALUES))]


def address_quantity(data: bytes) -> dict[str, Any]:
    if len(data) < 4:
        return {}
    address, quantity = struct.unpack_from(">HH", data)
    return {"address": address, "quantity": quantity}


def single_write(data: bytes, is_coil: bool) -> dict[str, Any]:
    if len(data) < 4:
        return {}
    address, value = struct.unpack_from(">HH", data)
    return {"address": address, "values": [int(value == 0xFF00) if is_coil else value]}


def multiple_write_request(data: bytes, is_coil: bool) -> dict[str, Any]:
    fields = address_quantity(data)
    if fields:
        quantity = fields["quantity"]
        fields["values"] = bits(data, 5, quantity) if is_coil else words(data, 5, quantity)
    return fields


def read_response(data: bytes, function: int, request: Request | None) -> dict[str, Any]:
    count = request.quantity if request else None
    if function in BIT_READS:
        return {"values": bits(data, 1, count)}
    return {"values": words(data, 1, count)}


def mask_write(data: bytes) -> dict[str, Any]:
    """Address, AND mask, OR mask: as many as a (possibly truncated) body holds."""
    names = ("address", "and_mask", "or_mask")
    count = min(len(data) // 2, 3)
    return dict(zip(names, struct.unpack_from(f">{count}H", data), strict=False))


def read_write_request(data: bytes) -> dict[str, Any]:
    if len(data) < 9:
        return {}
    address, quantity, write_address, write_quantity = struct.unpack_from(">HHHH", data)
    return {"address": address, "quantity": quantity, "write_address": write_address,
            "write_quantity": write_quantity, "values": words(data, 9, write_quantity)}


def diagnostics(data: bytes) -> dict[str, Any]:
    if len(data) < 2:
        return {}
    (sub,) = struct.unpack_from(">H", data)
    fields: dict[str, Any] = {"diagnostic_subfunction": sub,
                              "diagnostic_subfunction_name": code_name(DIAGNOSTIC_NAMES, sub)}
    if len(data) >= 4:
        fields["diagnostic_data"] = struct.unpack_from(">H", data, 2)[0]
    return fields


def encapsulated(data: bytes, is_response: bool) -> dict[str, Any]:
    if not data:
        return {}
    fields: dict[str, Any] = {"mei_type": data[0], "mei_type_name": code_name(MEI_NAMES, data[0])}
    if data[0] == 14 and len(data) >= 3:
        fields["device_id_code"] = data[1]
        if is_response:
            fields |= device_identification(data)
        else:
            fields["object_id"] = data[2]
    return fields


def device_identification(data: bytes) -> dict[str, Any]:
    """The objects of a read device identification response (MEI type 14)."""
    if len(data) < 6:
        return {}
    fields: dict[str, Any] = {"conformity_level": data[2]}
    ids, values, offset = [], [], 6
    for _ in range(data[5]):
        if offset + 2 > len(data):
            break
        object_id, length = data[offset], data[offset + 1]
        value = data[offset + 2:offset + 2 + length].decode("latin-1")
        offset += 2 + length
        if object_id in DEVICE_OBJECTS:
            fields[DEVICE_OBJECTS[object_id]] = value
        ids.append(object_id)
        values.append(value)
    if ids:
        fields["device_object_ids"], fields["device_object_values"] = ids, values
    return fields


REQUEST_DECODERS: dict[int, Callable[[bytes], dict[str, Any]]] = {
    1: address_quantity, 2: address_quantity, 3: address_quantity, 4: address_quantity,
    5: lambda d: single_write(d, True), 6: lambda d: single_write(d, False),
    8: diagnostics, 15: lambda d: multiple_write_request(d, True),
    16: lambda d: multiple_write_request(d, False), 22: mask_write, 23: read_write_request,
    24: lambda d: {"address": struct.unpack_from(">H", d)[0]} if len(d) >= 2 else {},
    43: lambda d: encapsulated(d, False),
}
RESPONSE_DECODERS: dict[int, Callable[[bytes], dict[str, Any]]] = {
    5: lambda d: single_write(d, True), 6: lambda d: single_write(d, False),
    8: diagnostics, 15: address_quantity, 16: address_quantity, 22: mask_write,
    43: lambda d: encapsulated(d, True),
}


def request_fields(pdu: ModbusPdu, state: ModbusState | None) -> dict[str, Any]:
    decoder = REQUEST_DECODERS.get(pdu.function_code)
    fields = decoder(pdu.data) if decoder else {}
    if state is not None:
        state.remember(pdu.transaction_id, Request(pdu.function_code, fields.get("address"),
                                                   fields.get("quantity")))
    return fields


def response_fields(pdu: ModbusPdu, state: ModbusState | None) -> dict[str, Any]:
    request = state.answer(pdu.transaction_id, pdu.function_code) if state else None
    fields: dict[str, Any] = {}
    if request is not None:
        fields = {k: v for k, v in (("address", request.address),
                                    ("quantity", request.quantity)) if v is not None}
    if pdu.exception_code is not None:
        return fields
    if pdu.function_code in BIT_READS | REGISTER_READS or pdu.function_code == 23:
        return fields | read_response(pdu.data, pdu.function_code, request)
    decoder = RESPONSE_DECODERS.get(pdu.function_code)
    return fields | (decoder(pdu.data) if decoder else {})


def to_event(pdu: ModbusPdu, state: ModbusState | None = None) -> dict[str, Any]:
    code = pdu.function_code
    fields: dict[str, Any] = {
        "transaction_id": pdu.transaction_id,
        "unit_id": pdu.unit_id,
        "function_code": code,
        "function_name": code_name(FUNCTION_NAMES, code),
        "is_response": pdu.is_response,
        "length": pdu.length,
    }
    if pdu.exception_code is not None:
        fields["exception_code"] = pdu.exception_code
        fields["exception_name"] = code_name(EXCEPTION_NAMES, pdu.exception_code)
    detail = response_fields(pdu, state) if pdu.is_response else request_fields(pdu, state)
    return {"network": {"protocol": "modbus"}, "modbus": fields | detail}


ANALYZER = AnalyzerSpec(
    name="modbus", transport="tcp", ports=(502,), probe=probe, parse=parse_pdu,
    to_event=to_event, max_pdu=MBAP.size - 1 + MAX_LENGTH, new_state=ModbusState,
)
