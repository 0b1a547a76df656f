"""S7comm and S7comm-plus PDUs over TPKT/COTP, from annotated bytes, including malformed ones."""

from __future__ import annotations

import pytest

from liaowang.schema import validate
from sensor.analyzers import s7comm
from sensor.analyzers.base import Malformed, NeedMore, Parsed


def text(value: str, width: int) -> str:
    """The hex of ``value`` padded with spaces to ``width`` bytes (SZL record text fields)."""
    return value.ljust(width).encode().hex()


MODULE_IDENTIFICATION = (
    # TPKT: version, reserved, length 97 | COTP DT: LI 2, type, EOT
    "03 00 0061  02 f0 80"
    # S7: id, ROSCTR userdata, redundancy id, PDU ref 0x0100, param length 12, data length 68
    "32 07 0000 0100 000c 0044"
    # param: head 000112, length 8, method 0x12 (response), type 8 / group 4, subfunc 1 (read
    # SZL), sequence 1, data unit ref 0, last unit 0 (yes), error code 0
    "000112 08 12 84 01 01 00 00 0000"
    # data: return code 0xff, transport size 9 (octet string), length 64
    "ff 09 0040"
    # SZL id 0x0011, index 0, record length 28, 2 records
    "0011 0000 001c 0002"
    # record index 1: order number, BGTyp, Ausbg, Ausbe
    "0001" + text("6ES7 315-2EH14-0AB0", 20) + "00c0 0004 0001"
    # record index 7: firmware: Ausbg "V" 3, Ausbe 2.6
    "0007" + text("", 20) + "0000 5603 0206"
)

CASES = [
    pytest.param(
        # TPKT len 22 | COTP LI 17, CR, dst ref 0, src ref 1, class 0,
        # TPDU size 2^10, calling TSAP 0100, called TSAP 0102
        "03 00 0016  11 e0 0000 0001 00  c0 01 0a  c1 02 0100  c2 02 0102", True,
        {"protocol": "cotp", "cotp": {"type": 14, "type_name": "CR", "dst_ref": 0, "src_ref": 1,
                                      "tpdu_size": 1024, "src_tsap": "0100",
                                      "dst_tsap": "0102"}},
        id="cotp-connection-request"),
    pytest.param(
        # TPKT len 25 | COTP DT EOT | S7 job, PDU ref 0x0400, param 8, data 0 |
        # setup communication: reserved, max AmQ calling 1, called 1, PDU length 480
        "03 00 0019  02 f0 80  32 01 0000 0400 0008 0000  f0 00 0001 0001 01e0", True,
        {"protocol": "s7comm", "rosctr": 1, "rosctr_name": "job", "pdu_reference": 1024,
         "function": 0xF0, "function_name": "setup_communication", "max_amq_calling": 1,
         "max_amq_called": 1, "pdu_length": 480},
        id="setup-communication"),
    pytest.param(
        # S7 job, PDU ref 0x0500, param 14 | read var, 1 item: spec 0x12, length 10,
        # syntax S7ANY, transport size BYTE, count 4, DB 1, area DB (0x84), address 2.0
        "03 00 001f  02 f0 80  32 01 0000 0500 000e 0000"
        "04 01  12 0a 10 02 0004 0001 84 000010", True,
        {"function": 4, "function_name": "read_var", "item_count": 1, "item_syntax_id": [0x10],
         "item_area": [0x84], "item_area_name": ["data_block"], "item_db": [1],
         "item_address": [2], "item_bit": [0], "item_transport_size": [2],
         "item_transport_size_name": ["byte"], "item_length": [4]},
        id="read-var-job"),
    pytest.param(
        # S7 ack-data, PDU ref 0x0500, param 2, data 8, error class 0, code 0 |
        # read var, 1 item | data item: success, transport size 4 (bits), 32 bits, value
        "03 00 001d  02 f0 80  32 03 0000 0500 0002 0008 00 00  04 01  ff 04 0020 01020304",
        False,
        {"rosctr": 3, "rosctr_name": "ack_data", "error_class": 0, "error_code": 0,
         "error_class_name": "no_error", "function": 4, "item_count": 1,
         "return_codes": [0xFF], "return_code_names": ["success"], "is_response": True},
        id="read-var-ack-data"),
    pytest.param(
        # S7 job, param 14, data 5 | write var, 1 item: BIT (1), count 1, DB 2, area DB,
        # address 1.3 | data item: return code 0, transport size 3 (bit), 1 bit, value 1
        "03 00 0024  02 f0 80  32 01 0000 0600 000e 0005"
        "05 01  12 0a 10 01 0001 0002 84 00000b  00 03 0001 01", True,
        {"function": 5, "function_name": "write_var", "item_db": [2], "item_address": [1],
         "item_bit": [3], "item_transport_size_name": ["bit"]},
        id="write-var-job"),
    pytest.param(
        # S7 ack-data, param 2, data 1, error 0x8500 | write var, 1 item | code 0x05
        "03 00 0016  02 f0 80  32 03 0000 0600 0002 0001 85 00  05 01  05", False,
        {"error_class": 0x85, "error_class_name": "supplies", "function": 5,
         "return_codes": [5], "return_code_names": ["invalid_address"]},
        id="write-var-ack-data-with-error"),
    pytest.param(
        # S7 job, param 16 | PLC stop: 5 unknown bytes, PI service "P_PROGRAM" (9)
        "03 00 0021  02 f0 80  32 01 0000 0700 0010 0000  29 0000000000 09"
        + b"P_PROGRAM".hex(), True,
        {"function": 0x29, "function_name": "plc_stop", "pi_service": "P_PROGRAM"},
        id="plc-stop"),
    pytest.param(
        # S7 job, param 26 | PLC control: 7 unknown bytes, parameter block of 10 bytes
        # (block count 1, "0A00001P": DB 1 to file system P), PI service "_INSE" (5)
        "03 00 002b  02 f0 80  32 01 0000 0800 001a 0000  28 00000000 0000fd 000a 0100"
        + b"0A00001P".hex() + "05" + b"_INSE".hex(), True,
        {"function": 0x28, "function_name": "plc_control", "pi_service": "_INSE",
         "block_type": "0A", "block_type_name": "DB", "block_number": 1, "filesystem": "P"},
        id="plc-control-insert-block"),
    pytest.param(
        # S7 job, param 18 | request download: status 0, 2 unknown, 4 unknown,
        # file name "_0800001P" (OB 1, passive file system)
        "03 00 0023  02 f0 80  32 01 0000 0900 0012 0000  1a 00 0100 00000000 09"
        + b"_0800001P".hex(), True,
        {"function": 0x1A, "function_name": "request_download", "filename": "_0800001P",
         "block_type_name": "OB", "block_number": 1, "filesystem": "P"},
        id="request-download"),
    pytest.param(
        # S7 userdata, param 8, data 8 | head 000112, length 4, method 0x11 (request),
        # type 4 / group 4 (CPU functions), subfunction 1 (read SZL), sequence 0 |
        # data: return code 0xff, transport size 9, length 4, SZL id 0x0011, index 0x0001
        "03 00 0021  02 f0 80  32 07 0000 0100 0008 0008"
        "000112 04 11 44 01 00  ff 09 0004 0011 0001", True,
        {"rosctr": 7, "rosctr_name": "userdata", "userdata_type": 4,
         "userdata_type_name": "request", "userdata_group": 4,
         "userdata_group_name": "cpu_functions", "userdata_subfunction": 1,
         "userdata_subfunction_name": "read_szl", "szl_id": 0x11, "szl_index": 1},
        id="read-szl-request"),
    pytest.param(MODULE_IDENTIFICATION, False,
                 {"userdata_type_name": "response", "userdata_last_unit": True,
                  "data_return_code_name": "success", "szl_id": 0x11,
                  "order_number": "6ES7 315-2EH14-0AB0", "firmware_version": "V3.2.6"},
                 id="read-szl-module-identification"),
    pytest.param(
        # S7 userdata, push, group 0 (mode transition), subfunction 0 (STOP)
        "03 00 0019  02 f0 80  32 07 0000 0000 0008 0000  000110 04 00 00 00 00", False,
        {"userdata_group_name": "mode_transition", "userdata_subfunction": 0,
         "userdata_subfunction_name": "stop"},
        id="mode-transition-stop"),
    pytest.param(
        # userdata, group 1, unknown subfunction 0x7f keeps its number
        "03 00 0019  02 f0 80  32 07 0000 0000 0008 0000  000112 04 11 41 7f 00", True,
        {"userdata_group": 1, "userdata_subfunction": 0x7F,
         "userdata_subfunction_name": "unknown-127"},
        id="unknown-subfunction"),
    pytest.param(
        # S7 header says 8 parameter bytes, only 2 follow: header kept, anomaly flagged
        "03 00 0013  02 f0 80  32 01 0000 0400 0008 0000  f0 00", True,
        {"function": 0xF0, "anomalies": ["s7comm_length_mismatch",
                                         "s7comm_truncated_body"]},
        id="truncated-parameters"),
    pytest.param(
        # S7comm-plus V1 request: 0x72, version 1, data length 18 | opcode 0x31, reserved,
        # function 0x04ca (create object), reserved, sequence 1, session 0x120, flags 0x36,
        # 4 more bytes | trailer 72 01 0000
        "03 00 0021  02 f0 80  72 01 0012  31 0000 04ca 0000 0001 00000120 36 00000000"
        "72 01 0000", True,
        {"protocol": "s7comm-plus", "plus": {
            "version": 1, "version_name": "v1", "data_length": 18, "fragmented": False,
            "opcode": 0x31, "opcode_name": "request", "function": 0x04CA,
            "function_name": "create_object", "sequence": 1, "session_id": 0x120}},
        id="s7comm-plus-v1-request"),
    pytest.param(
        # S7comm-plus V3: integrity part (digest length 32 + digest) before the opcode;
        # response 0x32, function 0x054c (get multi variables), sequence 5 | trailer
        "03 00 003a  02 f0 80  72 03 002b  20" + "ab" * 32 + "32 0000 054c 0000 0005 00"
        "72 03 0000", False,
        {"plus": {"version": 3, "version_name": "v3", "data_length": 43, "fragmented": False,
                  "opcode": 0x32, "opcode_name": "response", "function": 0x054C,
                  "function_name": "get_multi_variables", "sequence": 5}},
        id="s7comm-plus-v3-response"),
    pytest.param(
        # other COTP payload: the first byte kept
        "03 00 0009  02 f0 80  55 55", True,
        {"protocol": "unknown-85", "protocol_id": 0x55},
        id="unknown-payload"),
]


def decode(raw: bytes, to_server: bool, state: object = None) -> dict:
    result = s7comm.parse_pdu(raw, to_server)
    assert isinstance(result, Parsed), result
    assert result.consumed == len(raw)
    event = s7comm.to_event(result.pdu, state or s7comm.new_state())
    assert validate(_as_event(event)) == []
    return event["s7comm"]


def _as_event(fields: dict) -> dict:
    dataset = fields.get("event", {}).get("dataset", "s7comm")
    return {"@timestamp": "2024-01-01T00:00:00.000000Z",
            **fields, "event": {"id": "x", "kind": "event", "dataset": dataset},
            "observer": {"name": "test"}}


@pytest.mark.parametrize(("hexdump", "to_server", "expected"), CASES)
def test_pdus_decode_to_their_fields(hexdump: str, to_server: bool, expected: dict) -> None:
    fields = decode(bytes.fromhex(hexdump), to_server)
    assert fields | expected == fields


COTP_SEGMENTS = (
    # TPKT len 17 | COTP DT without EOT | the first 10 bytes of an S7 PDU (job header)
    "03 00 0011  02 f0 00  32 01 0000 0400 0008 0000"
    # TPKT len 15 | COTP DT with EOT | the other 8 bytes (setup communication)
    "03 00 000f  02 f0 80  f0 00 0001 0001 01e0"
)


def test_cotp_segments_are_joined_into_one_s7_pdu() -> None:
    raw = bytes.fromhex(COTP_SEGMENTS)
    assert s7comm.parse_pdu(raw[:17], True) == NeedMore(17 + 6)
    assert s7comm.parse_pdu(raw[:20], True) == NeedMore(17 + 6)
    assert s7comm.parse_pdu(raw[:23], True) == NeedMore(len(raw))
    fields = decode(raw, True)
    assert fields["cotp"]["fragments"] == 2
    assert (fields["function_name"], fields["pdu_length"]) == ("setup_communication", 480)


def test_a_tpkt_split_across_segments_waits_for_its_length() -> None:
    raw = bytes.fromhex("03 00 0019  02 f0 80  32 01 0000 0400 0008 0000  f0 00 0001 0001 01e0")
    assert s7comm.parse_pdu(raw[:3], True) == NeedMore(6)
    assert s7comm.parse_pdu(raw[:12], True) == NeedMore(25)


def test_two_pdus_in_one_buffer_are_taken_one_at_a_time() -> None:
    one = "03 00 0019  02 f0 80  32 01 0000 0400 0008 0000  f0 00 0001 0001 01e0"
    raw = bytes.fromhex(one + one.replace("0400", "0401", 1))
    first = s7comm.parse_pdu(raw, True)
    assert isinstance(first, Parsed) and first.consumed == 25
    second = s7comm.parse_pdu(raw[25:], True)
    assert isinstance(second, Parsed) and second.pdu.fields["pdu_reference"] == 0x0401


def test_an_s7comm_plus_pdu_without_trailer_continues_in_the_next() -> None:
    state = s7comm.new_state()
    # V2 request, data length 9, no trailer: the PDU goes on in the next TPKT
    first = decode(bytes.fromhex("03 00 0014  02 f0 80  72 02 0009  31 0000 0586 0000 0007"),
                   True, state)
    # the next TPKT of the same direction: its data are not an opcode
    rest = decode(bytes.fromhex("03 00 0014  02 f0 80  72 02 0005  3132333435  72 02 0000"),
                  True, state)
    assert first["plus"]["fragmented"] and first["plus"]["function_name"] == \
        "get_var_sub_streamed"
    assert rest["plus"] | {"continuation": True, "fragmented": False} == rest["plus"]
    assert "opcode" not in rest["plus"]


def test_a_keep_alive_byte_before_the_first_tpkt_is_skipped_with_a_weird() -> None:
    raw = bytes.fromhex("00  03 00 0019  02 f0 80  32 01 0000 0400 0008 0000  f0 00 0001 0001 01e0")
    assert s7comm.probe(raw) is True
    result = s7comm.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == 1
    event = s7comm.to_event(result.pdu, None)
    assert event["weird"]["name"] == "s7comm_stray_byte_before_tpkt"
    assert isinstance(s7comm.parse_pdu(raw[1:], True), Parsed)


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("02 00 0019  02 f0 80", Malformed(s7comm.Anomaly.BAD_TPKT_VERSION)),
    ("03 00 0005  02 f0 80", Malformed(s7comm.Anomaly.BAD_TPKT_LENGTH)),
    # COTP length indicator 0x20 does not fit a TPKT of 9 bytes
    ("03 00 0009  20 f0 80 32 01", Malformed(s7comm.Anomaly.BAD_COTP_LENGTH)),
    # a COTP segment without EOT followed by a TPKT of another version
    ("03 00 0008  02 f0 00 32  04 00 0008 02 f0", Malformed(s7comm.Anomaly.BAD_TPKT_VERSION)),
])
def test_malformed_framing(hexdump: str, outcome: object) -> None:
    assert s7comm.parse_pdu(bytes.fromhex(hexdump), True) == outcome


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("03 00 0016 11 e0", True),          # a connection request
    ("03 00 0019 02 f0", True),          # a data TPDU
    ("1603 0100 2e01 0000", False),      # a TLS record on port 102
    ("03 00 0016 11 a0", False),         # no such COTP type
    ("03 00", None),                     # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert s7comm.probe(bytes.fromhex(hexdump)) is verdict
