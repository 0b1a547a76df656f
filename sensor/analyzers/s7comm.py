"""S7comm and S7comm-plus over ISO-on-TCP (TPKT + COTP, RFC 1006 / ISO 8073), port 102.

One PDU is one TPKT carrying a COTP TPDU; data TPDUs split without the end-of-TSDU bit are joined
with the ones that follow, so the PDU completes on the frame that carried its last segment.
The COTP payload then decides: 0x32 is S7comm (header, parameters, data), 0x72 is S7comm-plus
(recognised: version, opcode, function, session), anything else keeps its first byte.

>>> setup = "0300 0019 02f080 3201 0000 0400 0008 0000 f000 0001 0001 01e0"
>>> result = parse_pdu(bytes.fromhex(setup), to_server=True)
>>> fields = to_event(result.pdu, new_state())["s7comm"]
>>> fields["rosctr_name"], fields["function_name"], fields["pdu_length"]
('job', 'setup_communication', 480)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name

TPKT_HEADER = 4
MIN_TPKT_LENGTH = 7           # TPKT header + the shortest COTP TPDU (a DT: LI, type, number)
COTP_DT = 0x0F
S7COMM_ID, S7PLUS_ID = 0x32, 0x72
MAX_REASSEMBLED = 256 * 1024  # COTP segments of one TSDU, in all
MAX_PDU = MAX_REASSEMBLED + TPKT_HEADER + 1
S7_HEADER = struct.Struct(">BBHHHH")
S7_ITEM = struct.Struct(">BBBBHHB3s")  # spec type, length, syntax, tsize, count, db, area, addr

COTP_TYPES = {0x0E: "CR", 0x0D: "CC", 0x0F: "DT", 0x08: "DR", 0x0C: "DC", 0x07: "ED",
              0x02: "EA", 0x05: "RJ", 0x01: "ER", 0x06: "AK"}
ROSCTR = {1: "job", 2: "ack", 3: "ack_data", 7: "userdata"}
FUNCTIONS = {
    0x00: "cpu_services", 0xF0: "setup_communication", 0x04: "read_var", 0x05: "write_var",
    0x1A: "request_download", 0x1B: "download_block", 0x1C: "download_ended",
    0x1D: "start_upload", 0x1E: "upload", 0x1F: "end_upload", 0x28: "plc_control",
    0x29: "plc_stop",
}
ERROR_CLASSES = {
    0x00: "no_error", 0x81: "application_relationship", 0x82: "object_definition",
    0x83: "no_resources_available", 0x84: "service_processing", 0x85: "supplies",
    0x87: "access",
}
RETURN_CODES = {
    0x00: "reserved", 0x01: "hardware_fault", 0x03: "object_access_not_allowed",
    0x05: "invalid_address", 0x06: "data_type_not_supported", 0x07: "data_type_inconsistent",
    0x0A: "object_does_not_exist", 0xFF: "success",
}
AREAS = {
    0x03: "system_info", 0x05: "system_flags", 0x06: "analog_inputs", 0x07: "analog_outputs",
    0x1C: "counter", 0x1D: "timer", 0x1E: "iec_counter", 0x1F: "iec_timer",
    0x80: "peripheral", 0x81: "inputs", 0x82: "outputs", 0x83: "flags", 0x84: "data_block",
    0x85: "instance_data_block", 0x86: "local_data", 0x87: "previous_local_data",
}
TRANSPORT_SIZES = {
    1: "bit", 2: "byte", 3: "char", 4: "word", 5: "int", 6: "dword", 7: "dint", 8: "real",
    9: "date", 10: "tod", 11: "time", 12: "s5time", 15: "date_and_time", 28: "counter",
    29: "timer", 30: "iec_timer", 31: "iec_counter", 32: "hs_counter",
}
LENGTH_IN_BITS = {0x03, 0x04, 0x05}  # data item transport sizes whose length counts bits
ITEM_FIELDS = ("item_syntax_id", "item_area", "item_area_name", "item_db", "item_address",
               "item_bit", "item_transport_size", "item_transport_size_name", "item_length")
BLOCK_TYPES = {"08": "OB", "0A": "DB", "0B": "SDB", "0C": "FC", "0D": "SFC", "0E": "FB",
               "0F": "SFB"}
USERDATA_TYPES = {0: "push", 4: "request", 8: "response"}
USERDATA_GROUPS = {
    0: "mode_transition", 1: "programmer_commands", 2: "cyclic_data", 3: "block_functions",
    4: "cpu_functions", 5: "security", 6: "pbc_bsend_brecv", 7: "time_functions",
    15: "nc_programming",
}
SUBFUNCTIONS = {
    0: {0: "stop", 1: "warm_restart", 2: "run", 3: "hot_restart", 4: "hold",
        6: "cold_restart", 9: "run_r", 11: "link_up", 12: "update"},
    1: {0x01: "request_diag_data_type1", 0x02: "vartab", 0x08: "modify_variable",
        0x0C: "erase", 0x0D: "disable_job", 0x0E: "enable_job", 0x0F: "delete_job",
        0x10: "read_job_list", 0x11: "read_job", 0x12: "replace_job",
        0x13: "block_status_v2", 0x16: "flash_led"},
    2: {0x01: "memory", 0x04: "unsubscribe", 0x05: "change_driven_transfer",
        0x07: "change_driven_transfer_modify", 0x08: "rdrec"},
    3: {0x01: "list_blocks", 0x02: "list_blocks_of_type", 0x03: "get_block_info"},
    4: {0x01: "read_szl", 0x02: "message_service", 0x03: "diagnostic_message",
        0x05: "alarm8_indication", 0x06: "notify_indication", 0x07: "alarm8_lock",
        0x08: "alarm8_unlock", 0x09: "scan_indication", 0x0B: "alarm_ack",
        0x0C: "alarm_ack_indication", 0x0D: "alarm_lock_indication",
        0x0E: "alarm_unlock_indication", 0x11: "alarm_sq_indication",
        0x12: "alarm_s_indication", 0x13: "alarm_query", 0x16: "notify8_indication"},
    5: {0x01: "plc_password", 0x02: "clean_session"},
    7: {0x01: "read_clock", 0x02: "set_clock", 0x03: "read_clock_following",
        0x04: "set_clock_2"},
}
PLUS_VERSIONS = {1: "v1", 2: "v2", 3: "v3", 0xFE: "keep_alive"}
PLUS_OPCODES = {0x31: "request", 0x32: "response", 0x33: "notification", 0x02: "response2"}
PLUS_FUNCTIONS = {
    0x04BB: "explore", 0x04CA: "create_object", 0x04D4: "delete_object",
    0x04F2: "set_variable", 0x04FC: "get_variable", 0x0506: "add_link",
    0x051A: "remove_link", 0x0524: "get_link", 0x0542: "set_multi_variables",
    0x054C: "get_multi_variables", 0x0556: "begin_sequence", 0x0560: "end_sequence",
    0x056B: "invoke", 0x057C: "set_var_sub_streamed", 0x0586: "get_var_sub_streamed",
    0x0590: "get_variables_address", 0x059A: "abort", 0x05A9: "error", 0x05B3: "init_ssl",
}


class Anomaly(StrEnum):
    BAD_TPKT_VERSION = "s7comm_bad_tpkt_version"
    BAD_TPKT_LENGTH = "s7comm_bad_tpkt_length"
    BAD_COTP_LENGTH = "s7comm_bad_cotp_length"
    TRUNCATED_HEADER = "s7comm_truncated_header"
    TRUNCATED_BODY = "s7comm_truncated_body"
    LENGTH_MISMATCH = "s7comm_length_mismatch"
    STRAY_BYTE = "s7comm_stray_byte_before_tpkt"


@dataclass(frozen=True, slots=True)
class S7Message:
    """One COTP TPDU (data segments joined) and what its payload says."""

    to_server: bool
    cotp: dict[str, Any]
    protocol: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StrayByte:
    """One byte before a TPKT header: a TCP keep-alive's byte that the reassembly took for the
    start of a stream it joined midway."""

    value: int


@dataclass(slots=True)
class FlowState:
    """Whether the last S7comm-plus PDU of each direction left a fragment open."""

    plus_open: dict[bool, bool] = field(default_factory=lambda: {True: False, False: False})


def new_state() -> FlowState:
    return FlowState()


def probe(payload: bytes) -> bool | None:
    """A TPKT version 3 header whose length holds a COTP TPDU of a known type (possibly after
    the one byte of a TCP keep-alive that opens a capture taken mid-stream)."""
    if payload[:1] not in (b"\x03", b""):
        return _tpkt_header(payload[1:])
    return _tpkt_header(payload)


def _tpkt_header(payload: bytes) -> bool | None:
    if len(payload) < 6:
        return None
    length = int.from_bytes(payload[2:4], "big")
    cotp_type = payload[5] >> 4
    return (payload[0] == 3 and payload[1] == 0 and length >= MIN_TPKT_LENGTH
            and payload[4] + 1 <= length - TPKT_HEADER and cotp_type in COTP_TYPES)


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if buf[:1] not in (b"\x03", b"") and _tpkt_header(buf[1:]):
        return Parsed(StrayByte(buf[0]), 1)
    first = _tpkt(buf, 0)
    if not isinstance(first, tuple):
        return first
    end, cotp_type = first
    li = buf[TPKT_HEADER]
    if cotp_type != COTP_DT:
        cotp = _cotp_connection(buf[TPKT_HEADER:end], cotp_type)
        return Parsed(S7Message(to_server, cotp, "cotp"), end)
    segments = [buf[TPKT_HEADER + 1 + li:end]]
    joined = _join_segments(buf, end, segments)
    if not isinstance(joined, int):
        return joined
    payload = b"".join(segments)
    cotp = {"type": COTP_DT, "type_name": "DT", "fragments": len(segments)}
    return Parsed(_decode_payload(payload, to_server, cotp), joined)


def _tpkt(buf: bytes, start: int) -> tuple[int, int] | NeedMore | Malformed:
    """The end of the TPKT at ``start`` and its COTP type, once all of it is in ``buf``."""
    if len(buf) < start + TPKT_HEADER + 2:
        return NeedMore(start + TPKT_HEADER + 2)
    if buf[start] != 3:
        return Malformed(Anomaly.BAD_TPKT_VERSION)
    length = int.from_bytes(buf[start + 2:start + 4], "big")
    if length < MIN_TPKT_LENGTH:
        return Malformed(Anomaly.BAD_TPKT_LENGTH)
    if buf[start + TPKT_HEADER] + 1 > length - TPKT_HEADER:
        return Malformed(Anomaly.BAD_COTP_LENGTH)
    if len(buf) < start + length:
        return NeedMore(start + length)
    return start + length, buf[start + TPKT_HEADER + 1] >> 4


def _join_segments(buf: bytes, end: int, segments: list[bytes]) -> int | NeedMore | Malformed:
    """Add the DT segments that follow an unfinished one; the end of the last one used."""
    eot = buf[TPKT_HEADER + 2] & 0x80 if buf[TPKT_HEADER] >= 2 else 0x80
    while not eot:
        if end > MAX_REASSEMBLED:
            return NeedMore(MAX_PDU + 1)
        following = _tpkt(buf, end)
        if not isinstance(following, tuple):
            return following
        next_end, cotp_type = following
        li = buf[end + TPKT_HEADER]
        if cotp_type != COTP_DT or li < 2:
            return end  # another kind of TPDU interrupts: deliver what was gathered
        segments.append(buf[end + TPKT_HEADER + 1 + li:next_end])
        eot = buf[end + TPKT_HEADER + 2] & 0x80
        end = next_end
    return end


def _cotp_connection(tpdu: bytes, cotp_type: int) -> dict[str, Any]:
    """CR, CC, DR and the other non-data TPDUs: references and the TSAP parameters."""
    cotp: dict[str, Any] = {"type": cotp_type, "type_name": code_name(COTP_TYPES,
                                                                      cotp_type)}
    li = tpdu[0]
    if len(tpdu) >= 6:
        cotp["dst_ref"] = int.from_bytes(tpdu[2:4], "big")
        if cotp_type in (0x0E, 0x0D, 0x08, 0x0C):
            cotp["src_ref"] = int.from_bytes(tpdu[4:6], "big")
    if cotp_type in (0x0E, 0x0D):
        _cotp_parameters(tpdu[7:li + 1], cotp)
    return cotp


def _cotp_parameters(params: bytes, cotp: dict[str, Any]) -> None:
    offset = 0
    while offset + 2 <= len(params):
        code, size = params[offset], params[offset + 1]
        value = params[offset + 2:offset + 2 + size]
        if code == 0xC0 and value and value[0] <= 16:  # TPDU size as a power of two
            cotp["tpdu_size"] = 1 << value[0]
        elif code == 0xC1:
            cotp["src_tsap"] = value.hex()
        elif code == 0xC2:
            cotp["dst_tsap"] = value.hex()
        offset += 2 + size


def _decode_payload(payload: bytes, to_server: bool, cotp: dict[str, Any]) -> S7Message:
    if not payload:
        return S7Message(to_server, cotp, "cotp")
    if payload[0] == S7COMM_ID:
        return S7Message(to_server, cotp, "s7comm", _s7comm(payload))
    if payload[0] == S7PLUS_ID:
        return S7Message(to_server, cotp, "s7comm-plus", _s7plus(payload))
    return S7Message(to_server, cotp, f"unknown-{payload[0]}", {"protocol_id": payload[0]})


# --- S7comm -------------------------------------------------------------------------------------

def _s7comm(payload: bytes) -> dict[str, Any]:
    if len(payload) < S7_HEADER.size:
        return {"anomalies": [Anomaly.TRUNCATED_HEADER.value]}
    _, rosctr, _, pdu_ref, param_len, data_len = S7_HEADER.unpack_from(payload)
    fields: dict[str, Any] = {"rosctr": rosctr, "rosctr_name": code_name(ROSCTR, rosctr),
                              "pdu_reference": pdu_ref}
    offset = S7_HEADER.size
    if rosctr in (2, 3):
        if len(payload) < offset + 2:
            return fields | {"anomalies": [Anomaly.TRUNCATED_HEADER.value]}
        fields["error_class"], fields["error_code"] = payload[offset], payload[offset + 1]
        fields["error_class_name"] = code_name(ERROR_CLASSES, payload[offset])
        offset += 2
    param = payload[offset:offset + param_len]
    data = payload[offset + param_len:offset + param_len + data_len]
    anomalies = []
    if offset + param_len + data_len != len(payload):
        anomalies.append(Anomaly.LENGTH_MISMATCH.value)
    try:
        _s7comm_body(rosctr, param, data, fields)
    except (IndexError, struct.error, ValueError):
        anomalies.append(Anomaly.TRUNCATED_BODY.value)
    if anomalies:
        fields["anomalies"] = anomalies
    return fields


def _s7comm_body(rosctr: int, param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    if rosctr == 7:
        _userdata(param, data, fields)
    elif rosctr in (1, 3) and param:
        function = param[0]
        fields["function"] = function
        fields["function_name"] = code_name(FUNCTIONS, function)
        decoder = _JOB_DECODERS if rosctr == 1 else _ACK_DECODERS
        if function in decoder:
            decoder[function](param, data, fields)


def _setup(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    calling, called, pdu_length = struct.unpack_from(">HHH", param, 2)
    fields.update(max_amq_calling=calling, max_amq_called=called, pdu_length=pdu_length)


def _var_request(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    count = param[1]
    fields["item_count"] = count
    items: dict[str, list[Any]] = {name: [] for name in ITEM_FIELDS}
    offset = 2
    for _ in range(count):
        length = param[offset + 1]
        _var_item(param[offset:offset + 2 + length], items)
        offset += 2 + length
    fields.update((key, values) for key, values in items.items() if values)


def _var_item(spec: bytes, items: dict[str, list[Any]]) -> None:
    syntax = spec[2] if len(spec) > 2 else -1
    items["item_syntax_id"].append(syntax)
    if syntax != 0x10 or len(spec) < S7_ITEM.size:
        return
    _, _, _, tsize, count, db, area, address = S7_ITEM.unpack_from(spec)
    bits = int.from_bytes(address, "big")
    for key, value in (("item_transport_size", tsize), ("item_length", count), ("item_db", db),
                       ("item_area", area), ("item_address", bits >> 3), ("item_bit", bits & 7)):
        items[key].append(value)
    items["item_area_name"].append(code_name(AREAS, area))
    items["item_transport_size_name"].append(code_name(TRANSPORT_SIZES, tsize))


def _read_response(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    count = param[1]
    fields["item_count"] = count
    codes, offset = [], 0
    for index in range(count):
        code, tsize, length = data[offset], data[offset + 1], int.from_bytes(
            data[offset + 2:offset + 4], "big")
        codes.append(code)
        size = (length + 7) // 8 if tsize in LENGTH_IN_BITS else length
        offset += 4 + size + (size % 2 if index + 1 < count else 0)
    _return_codes(codes, fields)


def _write_response(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    count = param[1]
    fields["item_count"] = count
    _return_codes(list(data[:count]), fields)


def _return_codes(codes: list[int], fields: dict[str, Any]) -> None:
    fields["return_codes"] = codes
    fields["return_code_names"] = [code_name(RETURN_CODES, c) for c in codes]


def _plc_control(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    block_len = int.from_bytes(param[8:10], "big")
    name_at = 10 + block_len
    _pi_service(param, name_at, fields)
    block = param[10:name_at]
    if len(block) >= 8:  # _INSE, _DELE: the block as in a file name, without the "_"
        _block_of_filename(b"_" + block[-8:], fields)


def _plc_stop(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    _pi_service(param, 6, fields)


def _pi_service(param: bytes, at: int, fields: dict[str, Any]) -> None:
    size = param[at]
    fields["pi_service"] = param[at + 1:at + 1 + size].decode("latin-1")


def _block_control(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    fields["function_status"] = param[1]
    if param[0] != 0x1E and len(param) > 8:
        size = param[8]
        filename = param[9:9 + size]
        fields["filename"] = filename.decode("latin-1")
        _block_of_filename(filename, fields)


def _block_of_filename(filename: bytes, fields: dict[str, Any]) -> None:
    """``_0A00001P``: file id, block type (hex text), 5-digit number, destination file system."""
    text = filename.decode("latin-1")
    if len(text) == 9 and text[0] == "_" and text[3:8].isascii() and text[3:8].isdigit():
        fields["block_type"] = text[1:3]
        fields["block_type_name"] = BLOCK_TYPES.get(text[1:3], f"unknown-{text[1:3]}")
        fields["block_number"] = int(text[3:8])
        fields["filesystem"] = text[8]


_JOB_DECODERS = {0xF0: _setup, 0x04: _var_request, 0x05: _var_request, 0x28: _plc_control,
                 0x29: _plc_stop, 0x1A: _block_control, 0x1B: _block_control,
                 0x1C: _block_control, 0x1D: _block_control, 0x1E: _block_control,
                 0x1F: _block_control}
_ACK_DECODERS = {0xF0: _setup, 0x04: _read_response, 0x05: _write_response}


def _userdata(param: bytes, data: bytes, fields: dict[str, Any]) -> None:
    method, kind_group, subfunction, sequence = param[4], param[5], param[6], param[7]
    group, kind = kind_group & 0x0F, kind_group >> 4
    fields.update(userdata_method=method, userdata_type=kind,
                  userdata_type_name=code_name(USERDATA_TYPES, kind),
                  userdata_group=group,
                  userdata_group_name=code_name(USERDATA_GROUPS, group),
                  userdata_subfunction=subfunction,
                  userdata_subfunction_name=code_name(SUBFUNCTIONS.get(group, {}),
                                                      subfunction),
                  userdata_sequence=sequence)
    if param[3] >= 8:
        fields["userdata_last_unit"] = param[9] == 0
        fields["userdata_error_code"] = int.from_bytes(param[10:12], "big")
    if len(data) >= 4:
        fields["data_return_code"] = data[0]
        fields["data_return_code_name"] = code_name(RETURN_CODES, data[0])
        if group == 4 and subfunction == 1:
            _szl(data[4:], kind, fields)


def _szl(body: bytes, kind: int, fields: dict[str, Any]) -> None:
    if len(body) < 4:
        return
    szl_id, index = struct.unpack_from(">HH", body)
    fields.update(szl_id=szl_id, szl_index=index)
    if kind != 8 or len(body) < 8:
        return
    record_len, count = struct.unpack_from(">HH", body, 4)
    records = [body[8 + i * record_len:8 + (i + 1) * record_len] for i in range(count)]
    if szl_id & 0xFF == 0x11 and record_len == 28:
        _module_identification(records, fields)
    elif szl_id & 0xFF == 0x1C and record_len == 34:
        _component_identification(records, fields)


def _module_identification(records: list[bytes], fields: dict[str, Any]) -> None:
    for record in records:
        if len(record) < 28:
            return
        index = int.from_bytes(record[:2], "big")
        if index == 1:
            fields["order_number"] = _text(record[2:22])
        elif index == 7:
            major, minor, patch = record[25], record[26], record[27]
            fields["firmware_version"] = f"V{major}.{minor}.{patch}"


def _component_identification(records: list[bytes], fields: dict[str, Any]) -> None:
    wanted = {2: "module_name", 5: "serial_number", 7: "module_type"}
    for record in records:
        index = int.from_bytes(record[:2], "big")
        if index in wanted and len(record) == 34:
            fields[wanted[index]] = _text(record[2:34])


def _text(raw: bytes) -> str:
    return raw.split(b"\0")[0].decode("latin-1").strip()


# --- S7comm-plus --------------------------------------------------------------------------------

def _s7plus(payload: bytes) -> dict[str, Any]:
    version = payload[1] if len(payload) > 1 else -1
    fields: dict[str, Any] = {"version": version,
                              "version_name": code_name(PLUS_VERSIONS, version)}
    if len(payload) < 4:
        return fields | {"anomalies": [Anomaly.TRUNCATED_HEADER.value]}
    length = int.from_bytes(payload[2:4], "big")
    fields["data_length"] = length
    trailer = payload[4 + length:8 + length]
    fields["fragmented"] = trailer != bytes((S7PLUS_ID, version, 0, 0))
    body = payload[4:4 + length]
    if version == 3 and body[:1] == b"\x20":
        body = body[33:]  # integrity part: digest length and a 32-byte digest
    if version in (1, 2, 3):
        _s7plus_body(body, fields)
    return fields


def _s7plus_body(body: bytes, fields: dict[str, Any]) -> None:
    if len(body) < 9:
        return
    opcode = body[0]
    fields["opcode"], fields["opcode_name"] = opcode, code_name(PLUS_OPCODES, opcode)
    if opcode not in (0x31, 0x32, 0x02):
        return
    function, sequence = struct.unpack_from(">H2xH", body, 3)
    fields.update(function=function, function_name=code_name(PLUS_FUNCTIONS, function),
                  sequence=sequence)
    if opcode == 0x31 and len(body) >= 13:
        fields["session_id"] = int.from_bytes(body[9:13], "big")


# --- events -------------------------------------------------------------------------------------

def to_event(pdu: S7Message | StrayByte, state: FlowState | None) -> dict[str, Any]:
    if isinstance(pdu, StrayByte):
        return {"event": {"dataset": "weird"},
                "weird": {"name": Anomaly.STRAY_BYTE.value, "analyzer": "s7comm",
                          "detail": f"{pdu.value:#04x}"}}
    fields: dict[str, Any] = {"protocol": pdu.protocol, "cotp": pdu.cotp,
                              "is_response": not pdu.to_server}
    if pdu.protocol == "s7comm-plus":
        fields["plus"] = _plus_fields(pdu, state)
    else:
        fields.update(pdu.fields)
    return {"network": {"protocol": pdu.protocol}, "s7comm": fields}


def _plus_fields(pdu: S7Message, state: FlowState | None) -> dict[str, Any]:
    """A PDU that follows an unfinished one of the same direction continues it: its first data
    bytes are not an opcode."""
    plus = dict(pdu.fields)
    if state is None:
        return plus
    if state.plus_open[pdu.to_server]:
        plus["continuation"] = True
        for key in ("opcode", "opcode_name", "function", "function_name", "sequence",
                    "session_id"):
            plus.pop(key, None)
    state.plus_open[pdu.to_server] = bool(plus.get("fragmented"))
    return plus


ANALYZER = AnalyzerSpec(
    name="s7comm", transport="tcp", ports=(102,), probe=probe, parse=parse_pdu,
    to_event=to_event, max_pdu=MAX_PDU, new_state=new_state,
)
