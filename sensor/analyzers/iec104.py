"""IEC 60870-5-104: APCI (I, S and U frames) and the ASDU an I-frame carries, port 2404.

Information objects are reported as parallel arrays: the object address (IOA), its value and,
where the type has them, the quality or command qualifier and the select/execute bit.

>>> command = "68 0e 0000 0000 2d 01 06 00 0100 e80300 81"
>>> fields = to_event(parse_pdu(bytes.fromhex(command), to_server=True).pdu, None)["iec104"]
>>> fields["type_name"], fields["cot_name"], fields["ioa"], fields["value"], fields["select"]
('C_SC_NA_1', 'act', [1000], [1], [True])
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult, code_name

START = 0x68
MIN_LENGTH, MAX_LENGTH = 4, 253
ASDU_HEADER = 6       # type id, VSQ, COT, originator address, common address (2)
IOA_SIZE = 3

U_FUNCTIONS = {0x07: "STARTDT_act", 0x0B: "STARTDT_con", 0x13: "STOPDT_act",
               0x23: "STOPDT_con", 0x43: "TESTFR_act", 0x83: "TESTFR_con"}
CAUSES = {
    1: "per_cyc", 2: "back", 3: "spont", 4: "init", 5: "req", 6: "act", 7: "actcon",
    8: "deact", 9: "deactcon", 10: "actterm", 11: "retrem", 12: "retloc", 13: "file",
    20: "inrogen", **{20 + n: f"inro{n}" for n in range(1, 17)}, 37: "reqcogen",
    **{37 + n: f"reqco{n}" for n in range(1, 5)}, 44: "unknown_type", 45: "unknown_cause",
    46: "unknown_common_address", 47: "unknown_ioa",
}
# type id: (name, element size without the IOA)
TYPES: dict[int, tuple[str, int]] = {
    1: ("M_SP_NA_1", 1), 2: ("M_SP_TA_1", 4), 3: ("M_DP_NA_1", 1), 4: ("M_DP_TA_1", 4),
    5: ("M_ST_NA_1", 2), 6: ("M_ST_TA_1", 5), 7: ("M_BO_NA_1", 5), 8: ("M_BO_TA_1", 8),
    9: ("M_ME_NA_1", 3), 10: ("M_ME_TA_1", 6), 11: ("M_ME_NB_1", 3), 12: ("M_ME_TB_1", 6),
    13: ("M_ME_NC_1", 5), 14: ("M_ME_TC_1", 8), 15: ("M_IT_NA_1", 5), 16: ("M_IT_TA_1", 8),
    17: ("M_EP_TA_1", 6), 18: ("M_EP_TB_1", 7), 19: ("M_EP_TC_1", 7), 20: ("M_PS_NA_1", 5),
    21: ("M_ME_ND_1", 2), 30: ("M_SP_TB_1", 8), 31: ("M_DP_TB_1", 8), 32: ("M_ST_TB_1", 9),
    33: ("M_BO_TB_1", 12), 34: ("M_ME_TD_1", 10), 35: ("M_ME_TE_1", 10),
    36: ("M_ME_TF_1", 12), 37: ("M_IT_TB_1", 12), 38: ("M_EP_TD_1", 10),
    39: ("M_EP_TE_1", 11), 40: ("M_EP_TF_1", 11), 45: ("C_SC_NA_1", 1),
    46: ("C_DC_NA_1", 1), 47: ("C_RC_NA_1", 1), 48: ("C_SE_NA_1", 3), 49: ("C_SE_NB_1", 3),
    50: ("C_SE_NC_1", 5), 51: ("C_BO_NA_1", 4), 58: ("C_SC_TA_1", 8), 59: ("C_DC_TA_1", 8),
    60: ("C_RC_TA_1", 8), 61: ("C_SE_TA_1", 10), 62: ("C_SE_TB_1", 10),
    63: ("C_SE_TC_1", 12), 64: ("C_BO_TA_1", 11), 70: ("M_EI_NA_1", 1),
    100: ("C_IC_NA_1", 1), 101: ("C_CI_NA_1", 1), 102: ("C_RD_NA_1", 0),
    103: ("C_CS_NA_1", 7), 104: ("C_TS_NA_1", 2), 105: ("C_RP_NA_1", 1),
    106: ("C_CD_NA_1", 2), 107: ("C_TS_TA_1", 9), 110: ("P_ME_NA_1", 3),
    111: ("P_ME_NB_1", 3), 112: ("P_ME_NC_1", 5), 113: ("P_AC_NA_1", 1),
    120: ("F_FR_NA_1", 6), 121: ("F_SR_NA_1", 7), 122: ("F_SC_NA_1", 4),
    123: ("F_LS_NA_1", 5), 124: ("F_AF_NA_1", 4), 126: ("F_DR_TA_1", 13),
    127: ("F_SC_NB_1", 16),
}


class Anomaly(StrEnum):
    BAD_START = "iec104_bad_start_byte"
    BAD_LENGTH = "iec104_bad_length"
    TRUNCATED_ASDU = "iec104_truncated_asdu"
    UNKNOWN_TYPE = "iec104_unknown_type"
    OBJECTS_LENGTH_MISMATCH = "iec104_objects_length_mismatch"
    UNEXPECTED_LENGTH = "iec104_unexpected_length"


@dataclass(frozen=True, slots=True)
class Apdu:
    apci_type: str
    to_server: bool
    length: int
    send_seq: int | None = None
    recv_seq: int | None = None
    u_function: int | None = None
    asdu: dict[str, Any] = field(default_factory=dict)
    anomalies: tuple[str, ...] = ()


def probe(payload: bytes) -> bool | None:
    """An APDU start byte and a length an APDU can have."""
    if len(payload) < 2:
        return None
    return payload[0] == START and MIN_LENGTH <= payload[1] <= MAX_LENGTH


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < 2:
        return NeedMore(2)
    if buf[0] != START:
        return Malformed(Anomaly.BAD_START)
    length = buf[1]
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        return Malformed(Anomaly.BAD_LENGTH)
    if len(buf) < 2 + length:
        return NeedMore(2 + length)
    return Parsed(_apdu(buf[2:2 + length], to_server), 2 + length)


def _apdu(body: bytes, to_server: bool) -> Apdu:
    control, asdu = body[:4], body[4:]
    length = len(body)
    if control[0] & 1 == 0:
        send_seq = int.from_bytes(control[:2], "little") >> 1
        recv_seq = int.from_bytes(control[2:4], "little") >> 1
        fields, anomalies = _asdu(asdu)
        return Apdu("I", to_server, length, send_seq, recv_seq, asdu=fields,
                    anomalies=anomalies)
    anomalies = (Anomaly.UNEXPECTED_LENGTH.value,) if asdu else ()
    if control[0] & 3 == 1:
        recv_seq = int.from_bytes(control[2:4], "little") >> 1
        return Apdu("S", to_server, length, recv_seq=recv_seq, anomalies=anomalies)
    return Apdu("U", to_server, length, u_function=control[0], anomalies=anomalies)


def _asdu(asdu: bytes) -> tuple[dict[str, Any], tuple[str, ...]]:
    if len(asdu) < ASDU_HEADER:
        return {}, (Anomaly.TRUNCATED_ASDU.value,)
    type_id, vsq, cot = asdu[0], asdu[1], asdu[2]
    fields: dict[str, Any] = {
        "type_id": type_id, "type_name": TYPES.get(type_id, (f"unknown-{type_id}", 0))[0],
        "sq": bool(vsq & 0x80), "num_objects": vsq & 0x7F,
        "cot": cot & 0x3F, "cot_name": code_name(CAUSES, cot & 0x3F),
        "negative": bool(cot & 0x40), "test": bool(cot & 0x80),
        "originator_address": asdu[3],
        "common_address": int.from_bytes(asdu[4:6], "little"),
    }
    if type_id not in TYPES:
        return fields, (Anomaly.UNKNOWN_TYPE.value,)
    objects, complete = _objects(type_id, fields["sq"], fields["num_objects"], asdu[6:])
    count = len(objects["ioa"])
    fields.update((key, values) for key, values in objects.items() if values and
                  len(values) == count)
    return fields, () if complete else (Anomaly.OBJECTS_LENGTH_MISMATCH.value,)


def _objects(type_id: int, sq: bool, count: int, raw: bytes
             ) -> tuple[dict[str, list[Any]], bool]:
    """The information objects, and whether they fill the ASDU exactly."""
    size = TYPES[type_id][1]
    decode = _DECODERS.get(type_id)
    objects: dict[str, list[Any]] = {"ioa": [], "value": [], "quality": [], "select": []}
    expected = IOA_SIZE + count * size if sq else count * (IOA_SIZE + size)
    if count == 0 or len(raw) < IOA_SIZE:
        return objects, len(raw) == expected
    first = int.from_bytes(raw[:IOA_SIZE], "little")
    offset = IOA_SIZE
    for index in range(count):
        if not sq and index:
            if len(raw) < offset + IOA_SIZE:
                break
            first, offset = int.from_bytes(raw[offset:offset + IOA_SIZE], "little"), \
                offset + IOA_SIZE
        element = raw[offset:offset + size]
        if len(element) < size:
            break
        objects["ioa"].append(first + index if sq else first)
        if decode is not None:
            decode(element, objects)
        offset += size
    return objects, len(raw) == expected


# --- element decoders: each appends value (and quality or select where the type has them) --------

def _single(element: bytes, objects: dict[str, list[Any]]) -> None:
    objects["value"].append(element[0] & 1)
    objects["quality"].append(element[0] & 0xF0)


def _double(element: bytes, objects: dict[str, list[Any]]) -> None:
    objects["value"].append(element[0] & 3)
    objects["quality"].append(element[0] & 0xF0)


def _step(element: bytes, objects: dict[str, list[Any]]) -> None:
    value = element[0] & 0x7F  # a 7-bit two's complement step position
    objects["value"].append(value - 0x80 if value & 0x40 else value)
    objects["quality"].append(element[1])


def _measured(fmt: str, scale: float) -> Callable[[bytes, dict[str, list[Any]]], None]:
    width = struct.calcsize(fmt)

    def decode(element: bytes, objects: dict[str, list[Any]]) -> None:
        (value,) = struct.unpack_from(fmt, element)
        objects["value"].append(value / scale if scale != 1 else value)
        if len(element) > width:
            objects["quality"].append(element[width])
    return decode


def _counter(element: bytes, objects: dict[str, list[Any]]) -> None:
    objects["value"].append(struct.unpack_from("<i", element)[0])
    objects["quality"].append(element[4])


def _bitstring(element: bytes, objects: dict[str, list[Any]]) -> None:
    objects["value"].append(struct.unpack_from("<I", element)[0])


def _bitstring_with_quality(element: bytes, objects: dict[str, list[Any]]) -> None:
    _bitstring(element, objects)
    objects["quality"].append(element[4])


def _command(mask: int) -> Callable[[bytes, dict[str, list[Any]]], None]:
    def decode(element: bytes, objects: dict[str, list[Any]]) -> None:
        objects["value"].append(element[0] & mask)
        objects["quality"].append((element[0] & 0x7C) >> 2)  # qualifier of command (QU)
        objects["select"].append(bool(element[0] & 0x80))
    return decode


def _setpoint(fmt: str, scale: float) -> Callable[[bytes, dict[str, list[Any]]], None]:
    width = struct.calcsize(fmt)

    def decode(element: bytes, objects: dict[str, list[Any]]) -> None:
        (value,) = struct.unpack_from(fmt, element)
        qos = element[width]
        objects["value"].append(value / scale if scale != 1 else value)
        objects["quality"].append(qos & 0x7F)  # qualifier of set-point (QL)
        objects["select"].append(bool(qos & 0x80))
    return decode


def _qualifier(element: bytes, objects: dict[str, list[Any]]) -> None:
    objects["value"].append(element[0])


NORMALISED = 32768.0
_DECODERS: dict[int, Callable[[bytes, dict[str, list[Any]]], None]] = {
    1: _single, 2: _single, 30: _single, 3: _double, 4: _double, 31: _double,
    5: _step, 6: _step, 32: _step,
    7: _bitstring_with_quality, 8: _bitstring_with_quality, 33: _bitstring_with_quality,
    9: _measured("<h", NORMALISED), 10: _measured("<h", NORMALISED),
    34: _measured("<h", NORMALISED), 21: _measured("<h", NORMALISED),
    11: _measured("<h", 1), 12: _measured("<h", 1), 35: _measured("<h", 1),
    13: _measured("<f", 1), 14: _measured("<f", 1), 36: _measured("<f", 1),
    15: _counter, 16: _counter, 37: _counter,
    45: _command(0x01), 58: _command(0x01), 46: _command(0x03), 59: _command(0x03),
    47: _command(0x03), 60: _command(0x03),
    48: _setpoint("<h", NORMALISED), 61: _setpoint("<h", NORMALISED),
    49: _setpoint("<h", 1), 62: _setpoint("<h", 1),
    50: _setpoint("<f", 1), 63: _setpoint("<f", 1),
    51: _bitstring, 64: _bitstring,
    70: _qualifier, 100: _qualifier, 101: _qualifier, 105: _qualifier, 113: _qualifier,
}


# --- events -------------------------------------------------------------------------------------

def to_event(pdu: Apdu, state: None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"apci_type": pdu.apci_type, "length": pdu.length,
                              "is_response": not pdu.to_server}
    if pdu.send_seq is not None:
        fields["send_seq"] = pdu.send_seq
    if pdu.recv_seq is not None:
        fields["recv_seq"] = pdu.recv_seq
    if pdu.u_function is not None:
        fields["u_function"] = pdu.u_function
        fields["u_function_name"] = code_name(U_FUNCTIONS, pdu.u_function)
    fields.update(pdu.asdu)
    if pdu.anomalies:
        fields["anomalies"] = list(pdu.anomalies)
    return {"network": {"protocol": "iec104"}, "iec104": fields}


ANALYZER = AnalyzerSpec(
    name="iec104", transport="tcp", ports=(2404,), probe=probe, parse=parse_pdu,
    to_event=to_event, max_pdu=2 + MAX_LENGTH,
)
