"""Modbus/TCP PDUs from annotated bytes, including malformed ones, and request/response pairing."""

from __future__ import annotations

import pytest

from liaowang.schema import validate
from sensor.analyzers import modbus
from sensor.analyzers.base import Malformed, NeedMore, Parsed

REQUEST, RESPONSE = True, False

CASES = [
    # tid  pid  len  unit fc  start qty
    ("0001 0000 0006 11   03  006b  0003", REQUEST, {
        "transaction_id": 1, "unit_id": 17, "function_code": 3, "is_response": False,
        "function_name": "read_holding_registers", "address": 107, "quantity": 3}),
    # tid  pid  len  unit fc  bytes registers
    ("0001 0000 0009 11   03  06    022b 0000 0064", RESPONSE, {
        "function_code": 3, "is_response": True, "values": [555, 0, 100]}),
    # read coils: fc 1, start 19, 10 coils; response: 2 bytes of bits, lsb first
    ("0002 0000 0006 01 01 0013 000a", REQUEST, {"address": 19, "quantity": 10}),
    ("0002 0000 0005 01 01 02 cd01", RESPONSE, {"values": [1, 0, 1, 1, 0, 0, 1, 1, 1, 0,
                                                           0, 0, 0, 0, 0, 0]}),
    # write single coil on at 172 (0xff00), echoed by the response
    ("0003 0000 0006 01 05 00ac ff00", REQUEST, {"address": 172, "values": [1]}),
    ("0003 0000 0006 01 05 00ac ff00", RESPONSE, {"address": 172, "values": [1]}),
    # write single register 1 := 3
    ("0004 0000 0006 01 06 0001 0003", REQUEST, {"address": 1, "values": [3]}),
    # write multiple coils: start 19, 10 coils, 2 bytes: cd 01
    ("0005 0000 0009 01 0f 0013 000a 02 cd01", REQUEST, {
        "address": 19, "quantity": 10, "values": [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]}),
    ("0005 0000 0006 01 0f 0013 000a", RESPONSE, {"address": 19, "quantity": 10}),
    # write multiple registers: start 1, 2 registers, 4 bytes: 000a 0102
    ("0006 0000 000b 01 10 0001 0002 04 000a 0102", REQUEST, {
        "address": 1, "quantity": 2, "values": [10, 258]}),
    # mask write register 4: and 0x00f2, or 0x0025
    ("0007 0000 0008 01 16 0004 00f2 0025", REQUEST, {
        "address": 4, "and_mask": 0xF2, "or_mask": 0x25}),
    # a truncated mask write (seen in the wild) still gives its address and AND mask
    ("0007 0000 0006 01 16 0004 00f2", REQUEST, {"address": 4, "and_mask": 0xF2}),
    # read/write multiple: read 6 from 3, write 3 at 14, 6 bytes
    ("0008 0000 0011 01 17 0003 0006 000e 0003 06 00ff 00ff 00ff", REQUEST, {
        "address": 3, "quantity": 6, "write_address": 14, "write_quantity": 3,
        "values": [255, 255, 255]}),
    # diagnostics: sub-function 0 return query data, data a537
    ("0009 0000 0006 01 08 0000 a537", REQUEST, {
        "diagnostic_subfunction": 0, "diagnostic_subfunction_name": "return_query_data",
        "diagnostic_data": 0xA537}),
    ("000a 0000 0006 01 08 000b 0000", RESPONSE, {
        "diagnostic_subfunction": 11, "diagnostic_subfunction_name": "return_bus_message_count"}),
    # MEI 14 read device identification: basic (01), from object 0
    ("000b 0000 0005 01 2b 0e 01 00", REQUEST, {
        "mei_type": 14, "mei_type_name": "read_device_identification", "device_id_code": 1,
        "object_id": 0}),
    # response: code 01, conformity 01, more 00, next 00, 3 objects: id len value
    ("000b 0000 0019 01 2b 0e 01 01 00 00 03"
     "00 04 41434d45"          # 0 vendor name "ACME"
     "01 03 504c43"            # 1 product code "PLC"
     "02 04 56312e30", RESPONSE, {  # 2 revision "V1.0"
         "vendor_name": "ACME", "product_code": "PLC", "revision": "V1.0",
         "conformity_level": 1, "device_object_ids": [0, 1, 2],
         "device_object_values": ["ACME", "PLC", "V1.0"]}),
    # exception response: fc 0x83, exception code 2
    ("000c 0000 0003 01 83 02", RESPONSE, {
        "function_code": 3, "exception_code": 2, "exception_name": "illegal_data_address"}),
    # an unknown function keeps its number
    ("000d 0000 0002 01 41", REQUEST, {"function_code": 65, "function_name": "unknown-65"}),
    # a truncated body still gives the header fields
    ("000e 0000 0003 01 10 00", REQUEST, {"function_code": 16}),
]


def event_of(raw: bytes, to_server: bool, state: modbus.ModbusState | None) -> dict:
    result = modbus.parse_pdu(raw, to_server)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    event = modbus.to_event(result.pdu, state)
    full = {"@timestamp": "2024-01-01T00:00:00.000000Z", "observer": {"name": "t"},
            "event": {"id": "x", "kind": "event", "dataset": "modbus"}} | event
    assert validate(full) == []
    return event["modbus"]


@pytest.mark.parametrize(("hexdump", "to_server", "expected"), CASES)
def test_pdus_decode_to_their_fields(hexdump: str, to_server: bool, expected: dict) -> None:
    fields = event_of(bytes.fromhex(hexdump), to_server, modbus.ModbusState())
    assert fields | expected == fields


def test_a_response_carries_its_requests_address_and_quantity() -> None:
    state = modbus.ModbusState()
    event_of(bytes.fromhex("0007 0000 0006 01 03 0064 0002"), REQUEST, state)
    other = event_of(bytes.fromhex("0008 0000 0006 01 04 0000 0001"), REQUEST, state)
    assert other["address"] == 0
    response = event_of(bytes.fromhex("0007 0000 0007 01 03 04 0001 0002"), RESPONSE, state)
    assert response | {"address": 100, "quantity": 2, "values": [1, 2]} == response
    exception = event_of(bytes.fromhex("0008 0000 0003 01 84 02"), RESPONSE, state)
    assert exception["address"] == 0 and exception["exception_code"] == 2
    assert state.pending == {}


def test_read_values_are_cut_to_the_requested_quantity() -> None:
    state = modbus.ModbusState()
    event_of(bytes.fromhex("0001 0000 0006 01 01 0000 0003"), REQUEST, state)   # 3 coils
    response = event_of(bytes.fromhex("0001 0000 0004 01 01 01 ff"), RESPONSE, state)
    assert response["values"] == [1, 1, 1]


def test_a_response_to_another_function_is_not_paired() -> None:
    state = modbus.ModbusState()
    event_of(bytes.fromhex("0001 0000 0006 01 03 0064 0002"), REQUEST, state)
    response = event_of(bytes.fromhex("0001 0000 0005 01 04 02 0001"), RESPONSE, state)
    assert "address" not in response and response["values"] == [1]


def test_pending_requests_are_bounded() -> None:
    state = modbus.ModbusState()
    for tid in range(modbus.MAX_PENDING + 10):
        raw = bytes.fromhex(f"{tid:04x} 0000 0006 01 03 0000 0001")
        event_of(raw, REQUEST, state)
    assert len(state.pending) == modbus.MAX_PENDING
    assert min(state.pending) == 10            # the oldest were dropped


def test_values_are_capped() -> None:
    # read 2000 coils: the response holds 250 bytes of bits; only MAX_VALUES are kept
    raw = bytes.fromhex("0001 0000 00fd 01 01 fa") + bytes(250)
    assert len(event_of(raw, RESPONSE, None)["values"]) == modbus.MAX_VALUES


def test_two_pdus_in_one_buffer_are_taken_one_at_a_time() -> None:
    raw = bytes.fromhex("0001 0000 0006 01 03 0000 0001" "0002 0000 0006 01 03 0000 0002")
    first = modbus.parse_pdu(raw, True)
    assert isinstance(first, Parsed) and first.consumed == 12
    second = modbus.parse_pdu(raw[first.consumed:], True)
    assert isinstance(second, Parsed) and second.pdu.transaction_id == 2


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("0001 0000 0006 01", NeedMore(8)),                       # header cut short
    ("0001 0000 0006 01 03 00", NeedMore(12)),                # body cut short
    ("0001 0001 0006 01 03 0000 0001", Malformed(modbus.Anomaly.INVALID_PROTOCOL_ID)),
    ("0001 0000 0001 01 03", Malformed(modbus.Anomaly.INVALID_LENGTH)),
    ("0001 0000 0100 01 03", Malformed(modbus.Anomaly.INVALID_LENGTH)),
])
def test_incomplete_and_malformed_headers(hexdump: str, outcome: object) -> None:
    assert modbus.parse_pdu(bytes.fromhex(hexdump), True) == outcome


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("0001 0000 0006 01 03 0000 0001", True),
    ("1603 0100 2e01 0000", False),   # a TLS record on port 502
    ("0001 0000", None),              # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert modbus.probe(bytes.fromhex(hexdump)) is verdict
