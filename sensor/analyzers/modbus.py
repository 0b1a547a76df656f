"""Modbus/TCP (MBAP header + PDU), requests and responses.

>>> result = parse_pdu(bytes.fromhex("0001 0000 0006 11 03 006b 0003"), to_server=True)
>>> result.consumed, result.pdu.function_code, result.pdu.unit_id
(12, 3, 17)
>>> to_event(result.pdu, None)["modbus"]["function_name"]
'read_holding_registers'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name

MBAP = struct.Struct(">HHHB")
MBAP_LEN = MBAP.size + 1  # with the function code
MAX_LENGTH = 254          # unit id + PDU (at most 253 bytes)

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
    pdu = ModbusPdu(transaction_id, unit_id, function & 0x7F, not to_server, length, exception)
    return Parsed(pdu, total)


def to_event(pdu: ModbusPdu, state: None = None) -> dict[str, Any]:
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
    return {"network": {"protocol": "modbus"}, "modbus": fields}


ANALYZER = AnalyzerSpec(
    name="modbus", transport="tcp", ports=(502,), probe=probe, parse=parse_pdu,
    to_event=to_event, max_pdu=MBAP.size - 1 + MAX_LENGTH,
)
