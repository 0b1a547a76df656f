"""Modbus/TCP PDUs from annotated bytes, including malformed ones."""

from __future__ import annotations

import pytest

from sensor.analyzers import modbus
from sensor.analyzers.base import Malformed, NeedMore, Parsed

CASES = [
    # tid  pid  len  unit fc  start qty
    ("0001 0000 0006 11   03  006b  0003", True, {"transaction_id": 1, "unit_id": 17,
     "function_code": 3, "function_name": "read_holding_registers", "is_response": False}),
    # tid  pid  len  unit fc  bytes values
    ("0001 0000 0009 11   03  06    022b 0000 0064", False, {"function_code": 3,
     "is_response": True}),
    # exception response: fc 0x83, exception code 2
    ("0002 0000 0003 01   83  02", False, {"function_code": 3, "exception_code": 2,
     "exception_name": "illegal_data_address"}),
    # an unknown function keeps its number
    ("0003 0000 0002 01   41", True, {"function_code": 65, "function_name": "unknown-65"}),
]


@pytest.mark.parametrize(("hexdump", "to_server", "expected"), CASES)
def test_pdus_decode_to_their_fields(hexdump: str, to_server: bool, expected: dict) -> None:
    raw = bytes.fromhex(hexdump)
    result = modbus.parse_pdu(raw, to_server)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    fields = modbus.to_event(result.pdu)["modbus"]
    assert fields | expected == fields


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
