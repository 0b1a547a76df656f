"""IEC 60870-5-104 APDUs from annotated bytes, including malformed ones."""

from __future__ import annotations

import pytest

from liaowang.schema import validate
from sensor.analyzers import iec104
from sensor.analyzers.base import Malformed, NeedMore, Parsed

CASES = [
    pytest.param(
        # start, length 4 | U-frame: control 0x07 (STARTDT act), 3 zero bytes
        "68 04  07 00 00 00", True,
        {"apci_type": "U", "u_function": 7, "u_function_name": "STARTDT_act"},
        id="startdt-act"),
    pytest.param("68 04  83 00 00 00", False,  # U-frame: TESTFR con
                 {"apci_type": "U", "u_function_name": "TESTFR_con", "is_response": True},
                 id="testfr-con"),
    pytest.param(
        # S-frame: control 01 00, receive sequence number 0x007e >> 1 = 63
        "68 04  01 00 7e 00", False,
        {"apci_type": "S", "recv_seq": 63}, id="s-frame"),
    pytest.param(
        # I-frame: send seq 0x009a >> 1 = 77, receive seq 0x0028 >> 1 = 20 |
        # type 13 (M_ME_NC_1), VSQ 2 objects, COT 1 (periodic), originator 0, common address 3 |
        # IOA 1300, float 30.0, QDS 0 | IOA 1301, float 708.0, QDS 0x80 (invalid)
        "68 1a  9a 00 28 00  0d 02 01 00 0300  140500 0000f041 00  150500 00003144 80", False,
        {"apci_type": "I", "send_seq": 77, "recv_seq": 20, "type_id": 13,
         "type_name": "M_ME_NC_1", "sq": False, "num_objects": 2, "cot": 1,
         "cot_name": "per_cyc", "negative": False, "test": False, "originator_address": 0,
         "common_address": 3, "ioa": [1300, 1301], "value": [30.0, 708.0],
         "quality": [0, 0x80]},
        id="measured-float"),
    pytest.param(
        # type 1 (M_SP_NA_1), VSQ SQ + 3 objects, COT 20 (interrogated by station) |
        # first IOA 10, then SIQ of IOA 10, 11, 12 (12 is invalid)
        "68 10  0200 0000  01 83 14 00 0100  0a0000  01 00 81", False,
        {"type_name": "M_SP_NA_1", "sq": True, "num_objects": 3, "cot_name": "inrogen",
         "ioa": [10, 11, 12], "value": [1, 0, 1], "quality": [0, 0, 0x80]},
        id="single-points-in-sequence"),
    pytest.param(
        # type 3 (M_DP_NA_1), 1 object, spontaneous | IOA 0x010203, DIQ: on (2), blocked
        "68 0e  0400 0200  03 01 03 00 0100  030201  12", False,
        {"type_name": "M_DP_NA_1", "cot_name": "spont", "ioa": [0x010203], "value": [2],
         "quality": [0x10]},
        id="double-point"),
    pytest.param(
        # type 9 (M_ME_NA_1) | IOA 5, normalised 0x4000 = 0.5, QDS 0
        "68 10  0600 0000  09 01 03 00 0100  050000  0040 00", False,
        {"type_name": "M_ME_NA_1", "ioa": [5], "value": [0.5], "quality": [0]},
        id="measured-normalised"),
    pytest.param(
        # type 11 (M_ME_NB_1) | IOA 6, scaled -2 (0xfffe), QDS 0x01 (overflow)
        "68 10  0800 0000  0b 01 03 00 0100  060000  feff 01", False,
        {"type_name": "M_ME_NB_1", "value": [-2], "quality": [1]},
        id="measured-scaled"),
    pytest.param(
        # type 15 (M_IT_NA_1), COT 37 (counter interrogation) | IOA 1, counter 12345, seq 5
        "68 12  0a00 0000  0f 01 25 00 0100  010000  39300000 05", False,
        {"type_name": "M_IT_NA_1", "cot_name": "reqcogen", "value": [12345], "quality": [5]},
        id="integrated-total"),
    pytest.param(
        # type 45 (C_SC_NA_1), COT 6 (activation) | IOA 1000, SCO: select, on
        "68 0e  0000 0000  2d 01 06 00 0100  e80300  81", True,
        {"type_name": "C_SC_NA_1", "cot_name": "act", "ioa": [1000], "value": [1],
         "select": [True], "quality": [0]},
        id="single-command"),
    pytest.param(
        # type 46 (C_DC_NA_1), COT 7 + negative bit (0x47) | IOA 11, DCO: execute, off (1),
        # qualifier 1 (short pulse)
        "68 0e  0200 0200  2e 01 47 00 0100  0b0000  05", False,
        {"type_name": "C_DC_NA_1", "cot": 7, "cot_name": "actcon", "negative": True,
         "value": [1], "quality": [1], "select": [False]},
        id="double-command-negative-confirmation"),
    pytest.param(
        # type 47 (C_RC_NA_1) | IOA 12, RCO: higher (2)
        "68 0e  0400 0000  2f 01 06 00 0100  0c0000  02", True,
        {"type_name": "C_RC_NA_1", "value": [2], "select": [False]},
        id="regulating-step"),
    pytest.param(
        # type 48 (C_SE_NA_1) | IOA 13, normalised -0.5 (0xc000), QOS: select, QL 0
        "68 10  0600 0000  30 01 06 00 0100  0d0000  00c0 80", True,
        {"type_name": "C_SE_NA_1", "value": [-0.5], "select": [True], "quality": [0]},
        id="setpoint-normalised"),
    pytest.param(
        # type 49 (C_SE_NB_1), COT 6 + test bit | IOA 10000, scaled 1000, QOS 0
        "68 10  0800 0000  31 01 86 00 0100  102700  e803 00", True,
        {"type_name": "C_SE_NB_1", "test": True, "cot": 6, "ioa": [10000], "value": [1000],
         "select": [False]},
        id="setpoint-scaled"),
    pytest.param(
        # type 50 (C_SE_NC_1) | IOA 14, float 1.5 (0x3fc00000), QOS 0
        "68 12  0a00 0000  32 01 06 00 0100  0e0000  0000c03f 00", True,
        {"type_name": "C_SE_NC_1", "value": [1.5]}, id="setpoint-float"),
    pytest.param(
        # type 51 (C_BO_NA_1) | IOA 15, bitstring 0x0000000f
        "68 11  0c00 0000  33 01 06 00 0100  0f0000  0f000000", True,
        {"type_name": "C_BO_NA_1", "value": [15]}, id="bitstring-command"),
    pytest.param(
        # type 100 (C_IC_NA_1), station interrogation, IOA 0, QOI 20
        "68 0e  0000 0000  64 01 06 00 0100  000000  14", True,
        {"type_name": "C_IC_NA_1", "ioa": [0], "value": [20]}, id="interrogation"),
    pytest.param(
        # VSQ says 2 objects, only 1 follows: the one is kept, the mismatch flagged
        "68 0e  0000 0000  2d 02 06 00 0100  e80300  81", True,
        {"ioa": [1000], "anomalies": ["iec104_objects_length_mismatch"]},
        id="objects-cut-short"),
    pytest.param(
        # an unknown type id keeps its number
        "68 0e  0000 0000  c8 01 06 00 0100  010000  00", True,
        {"type_id": 200, "type_name": "unknown-200", "anomalies": ["iec104_unknown_type"]},
        id="unknown-type"),
    pytest.param(
        # I-frame too short for an ASDU header
        "68 06  0000 0000  2d 01", True,
        {"apci_type": "I", "anomalies": ["iec104_truncated_asdu"]}, id="truncated-asdu"),
]


def decode(raw: bytes, to_server: bool) -> dict:
    result = iec104.parse_pdu(raw, to_server)
    assert isinstance(result, Parsed), result
    assert result.consumed == len(raw)
    event = iec104.to_event(result.pdu)
    assert validate({"@timestamp": "2024-01-01T00:00:00.000000Z", **event,
                     "event": {"id": "x", "kind": "event", "dataset": "iec104"},
                     "observer": {"name": "test"}}) == []
    return event["iec104"]


@pytest.mark.parametrize(("hexdump", "to_server", "expected"), CASES)
def test_apdus_decode_to_their_fields(hexdump: str, to_server: bool, expected: dict) -> None:
    fields = decode(bytes.fromhex(hexdump), to_server)
    assert fields | expected == fields


def test_two_apdus_in_one_segment_are_taken_one_at_a_time() -> None:
    raw = bytes.fromhex("68 04 43 00 00 00" "68 04 01 00 02 00")  # TESTFR act, then S (1)
    first = iec104.parse_pdu(raw, True)
    assert isinstance(first, Parsed) and first.consumed == 6
    second = iec104.parse_pdu(raw[6:], True)
    assert isinstance(second, Parsed) and (second.pdu.apci_type, second.pdu.recv_seq) == ("S", 1)


def test_an_apdu_split_across_segments_waits_for_its_length() -> None:
    raw = bytes.fromhex("68 0e  0000 0000  2d 01 06 00 0100  e80300  81")
    assert iec104.parse_pdu(raw[:1], True) == NeedMore(2)
    assert iec104.parse_pdu(raw[:9], True) == NeedMore(16)
    assert isinstance(iec104.parse_pdu(raw, True), Parsed)


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("67 04 07 00 00 00", Malformed(iec104.Anomaly.BAD_START)),
    ("68 03 07 00 00", Malformed(iec104.Anomaly.BAD_LENGTH)),
    ("68 fe 00 00 00 00", Malformed(iec104.Anomaly.BAD_LENGTH)),
])
def test_malformed_apci(hexdump: str, outcome: object) -> None:
    assert iec104.parse_pdu(bytes.fromhex(hexdump), True) == outcome


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("68 04 07 00 00 00", True),
    ("68 02", False),              # shorter than any APDU
    ("16 03 01 00", False),        # a TLS record on port 2404
    ("68", None),                  # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert iec104.probe(bytes.fromhex(hexdump)) is verdict
