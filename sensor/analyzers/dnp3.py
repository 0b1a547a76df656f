"""DNP3 (IEEE 1815) over TCP and UDP: link frames, transport reassembly, application fragments.

``parse_frame`` reads one link-layer frame (header, CRC-checked 16-byte data blocks). The flow
state joins the transport segments of a channel into application fragments, and ``to_event``
makes one event per link frame that carries no user data (link services such as reset or link
status) and one per completed application fragment, on the frame that completed it; a segment
that leaves its fragment open makes none. A frame with a bad CRC makes a ``dnp3_bad_crc``
weird, bytes before a frame's start bytes a ``dnp3_bad_start`` weird, and the flow goes on.

>>> raw = bytes.fromhex("0564 14c4 0200 0300 4503 c7c8 013c 0206 3c03 063c 0406 3c01 0642 ac")
>>> frame = parse_frame(raw, to_server=True).pdu
>>> frame.source, frame.destination, frame.link_function
(3, 2, 4)
>>> event = to_event(frame, Dnp3Flow())["dnp3"]
>>> event["function_name"], event["objects"]["group"]
('read', [60, 60, 60, 60])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import (
    AnalyzerSpec,
    Malformed,
    NeedMore,
    Parsed,
    ParseResult,
    code_name,
)

START = b"\x05\x64"
HEADER_LEN = 10
BLOCK_LEN = 16
MIN_LENGTH = 5                       # control + destination + source
MAX_FRAME = HEADER_LEN + 250 + 2 * 16
PORT = 20000

PRIMARY_FUNCTIONS = {
    0: "reset_link_states", 1: "reset_user_process", 2: "test_link_states",
    3: "confirmed_user_data", 4: "unconfirmed_user_data", 9: "request_link_status",
}
USER_DATA_FUNCTIONS = (3, 4)
SECONDARY_FUNCTIONS = {0: "ack", 1: "nack", 11: "link_status", 14: "link_not_functioning",
                       15: "link_not_used"}
APP_FUNCTIONS = {
    0: "confirm", 1: "read", 2: "write", 3: "select", 4: "operate", 5: "direct_operate",
    6: "direct_operate_nr", 7: "immediate_freeze", 8: "immediate_freeze_nr", 9: "freeze_clear",
    10: "freeze_clear_nr", 11: "freeze_at_time", 12: "freeze_at_time_nr", 13: "cold_restart",
    14: "warm_restart", 15: "initialize_data", 16: "initialize_application",
    17: "start_application", 18: "stop_application", 19: "save_configuration",
    20: "enable_unsolicited", 21: "disable_unsolicited", 22: "assign_class",
    23: "delay_measure", 24: "record_current_time", 25: "open_file", 26: "close_file",
    27: "delete_file", 28: "get_file_info", 29: "authenticate_file", 30: "abort_file",
    31: "activate_config", 32: "authenticate_request", 33: "authenticate_request_no_ack",
    129: "response", 130: "unsolicited_response", 131: "authenticate_response",
}
RESPONSES = (129, 130, 131)
UNSOLICITED_RESPONSE = 130
# IIN1 is the high byte, IIN2 the low byte of ``iin``; bit 15 is IIN1.7.
IIN_FLAGS = (
    (0x0100, "all_stations"), (0x0200, "class_1_events"), (0x0400, "class_2_events"),
    (0x0800, "class_3_events"), (0x1000, "need_time"), (0x2000, "local_control"),
    (0x4000, "device_trouble"), (0x8000, "device_restart"),
    (0x0001, "no_func_code_support"), (0x0002, "object_unknown"), (0x0004, "parameter_error"),
    (0x0008, "event_buffer_overflow"), (0x0010, "already_executing"),
    (0x0020, "config_corrupt"), (0x0040, "reserved_2"), (0x0080, "reserved_1"),
)
MAX_FRAGMENT = 32_768                # bytes of one application fragment being reassembled
MAX_CHANNELS = 4                     # (direction, source, destination) reassemblies per flow
MAX_PENDING_REQUESTS = 16


class Anomaly(StrEnum):
    BAD_START = "dnp3_bad_start"
    BAD_LENGTH = "dnp3_bad_length"
    BAD_CRC = "dnp3_bad_crc"
    FRAGMENT_TOO_LONG = "dnp3_fragment_too_long"
    OUT_OF_SEQUENCE = "dnp3_transport_out_of_sequence"
    EMPTY_FRAGMENT = "dnp3_empty_fragment"


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """The DNP3 CRC (polynomial 0x3D65, reflected, complemented), as sent little-endian.

    >>> hex(crc16(bytes.fromhex("0564 14c4 0200 0300")))
    '0x345'
    """
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


@dataclass(frozen=True, slots=True)
class LinkFrame:
    length: int
    control: int
    destination: int
    source: int
    user_data: bytes          # the data blocks without their CRCs
    to_server: bool
    bad_crc: str | None = None   # "header" or "data"

    @property
    def primary(self) -> bool:
        return bool(self.control & 0x40)

    @property
    def link_function(self) -> int:
        return self.control & 0x0F

    @property
    def carries_user_data(self) -> bool:
        # Only (un)confirmed user data carries a transport segment; a station ignores data
        # in other frames, so it is not read as an application request either.
        return self.primary and self.link_function in USER_DATA_FUNCTIONS and bool(self.user_data)


@dataclass(frozen=True, slots=True)
class Junk:
    """Bytes that are not a link frame, skipped to find the next start bytes."""

    length: int


def frame_size(length: int) -> int:
    """Bytes on the wire of a frame whose length field is ``length``."""
    data = length - MIN_LENGTH
    return HEADER_LEN + data + 2 * -(-data // BLOCK_LEN)


def probe(payload: bytes) -> bool | None:
    """Link-layer start bytes and a length field of at least 5."""
    if len(payload) < 3:
        return None if START.startswith(payload) else False
    return payload[:2] == START and payload[2] >= MIN_LENGTH


def parse_frame(buf: bytes, to_server: bool) -> ParseResult:
    """One link-layer frame from the front of ``buf``; bytes before the next start bytes are
    skipped as one :class:`Junk` PDU, so a stream resynchronises as tshark does."""
    if buf[:2] != START[:len(buf[:2])]:
        skipped = _junk_length(buf)
        return Parsed(Junk(skipped), skipped)
    if len(buf) >= 3 and buf[2] < MIN_LENGTH:
        return Malformed(Anomaly.BAD_LENGTH)
    if len(buf) < HEADER_LEN:
        return NeedMore(HEADER_LEN)
    total = frame_size(buf[2])
    if len(buf) < total:
        return NeedMore(total)
    header_ok = crc16(buf[:8]) == int.from_bytes(buf[8:10], "little")
    user_data, data_ok = _unblock(buf[HEADER_LEN:total])
    bad = None if header_ok and data_ok else ("header" if not header_ok else "data")
    frame = LinkFrame(buf[2], buf[3], int.from_bytes(buf[4:6], "little"),
                      int.from_bytes(buf[6:8], "little"), user_data, to_server, bad)
    return Parsed(frame, total)


def _junk_length(buf: bytes) -> int:
    """Bytes before the next start bytes (a trailing 0x05 may begin them)."""
    found = buf.find(START, 1)
    if found > 0:
        return found
    return len(buf) - 1 if buf.endswith(START[:1]) and len(buf) > 1 else len(buf)


def _unblock(blocks: bytes) -> tuple[bytes, bool]:
    """The user data of the CRC-protected blocks, and whether every block's CRC holds."""
    data, ok = bytearray(), True
    for start in range(0, len(blocks), BLOCK_LEN + 2):
        block = blocks[start:start + BLOCK_LEN + 2]
        chunk = block[:-2]
        ok = ok and crc16(chunk) == int.from_bytes(block[-2:], "little")
        data += chunk
    return bytes(data), ok


@dataclass(slots=True)
class Reassembly:
    """One channel's application fragment being put together from transport segments."""

    sequence: int
    data: bytearray = field(default_factory=bytearray)
    segments: int = 0
    discarding: bool = False        # after an anomaly: drop segments quietly up to a FIN

    def add(self, payload: bytes) -> None:
        self.data += payload
        self.segments += 1

    def discard(self) -> None:
        self.data.clear()
        self.discarding = True


class Dnp3Flow:
    """Per-flow state: transport reassembly per channel and requests awaiting a response."""

    def __init__(self) -> None:
        self.channels: dict[tuple[bool, int, int], Reassembly] = {}
        self.requests: dict[tuple[int, int, int], int] = {}

    def add_segment(self, frame: LinkFrame) -> tuple[bytes | None, int, str | None]:
        """Add a frame's transport segment: the completed fragment (if any), how many
        segments made it, and the anomaly the segment showed (if any)."""
        header, payload = frame.user_data[0], frame.user_data[1:]
        fin, fir, sequence = header & 0x80, header & 0x40, header & 0x3F
        key = (frame.to_server, frame.source, frame.destination)
        current = self._open(key) if fir else self.channels.get(key)
        anomaly = None
        if current is None:
            current = self._open(key)
            current.discard()
            anomaly = Anomaly.OUT_OF_SEQUENCE
        elif not (fir or current.discarding) and sequence != (current.sequence + 1) % 64:
            current.discard()
            anomaly = Anomaly.OUT_OF_SEQUENCE
        current.sequence = sequence
        if not current.discarding:
            current.add(payload)
            if len(current.data) > MAX_FRAGMENT:
                current.discard()
                anomaly = Anomaly.FRAGMENT_TOO_LONG
        if not fin:
            return None, 0, anomaly
        del self.channels[key]
        if current.discarding:
            return None, 0, anomaly
        return bytes(current.data), current.segments, None

    def _open(self, key: tuple[bool, int, int]) -> Reassembly:
        self.channels.pop(key, None)
        if len(self.channels) >= MAX_CHANNELS:
            del self.channels[next(iter(self.channels))]
        self.channels[key] = Reassembly(0)
        return self.channels[key]

    def remember_request(self, frame: LinkFrame, sequence: int, function: int) -> None:
        if len(self.requests) >= MAX_PENDING_REQUESTS:
            del self.requests[next(iter(self.requests))]
        self.requests[(frame.source, frame.destination, sequence)] = function

    def request_of(self, frame: LinkFrame, sequence: int) -> int | None:
        return self.requests.pop((frame.destination, frame.source, sequence), None)


# Object groups: readable names, and the size in bytes of one object of each fixed-size
# variation (IEEE 1815 object library). Packed-bit variations give bits per point instead.
GROUP_NAMES = {
    0: "device_attributes", 1: "binary_input", 2: "binary_input_event",
    3: "double_bit_binary_input", 4: "double_bit_binary_input_event", 10: "binary_output",
    11: "binary_output_event", 12: "binary_output_command", 13: "binary_output_command_event",
    20: "counter", 21: "frozen_counter", 22: "counter_event", 23: "frozen_counter_event",
    30: "analog_input", 31: "frozen_analog_input", 32: "analog_input_event",
    33: "frozen_analog_input_event", 34: "analog_input_deadband", 40: "analog_output_status",
    41: "analog_output", 42: "analog_output_event", 43: "analog_output_command_event",
    50: "time_and_date", 51: "common_time_of_occurrence", 52: "time_delay", 60: "class_data",
    70: "file_control", 80: "internal_indications", 81: "storage", 82: "device_profile",
    83: "private_registration", 85: "data_set_prototype", 86: "data_set_descriptor",
    87: "data_set_present_value", 88: "data_set_snapshot", 90: "application_identifier",
    91: "status_of_requested_operation", 100: "floating_point", 101: "bcd_integer",
    102: "unsigned_integer", 110: "octet_string", 111: "octet_string_event",
    112: "virtual_terminal_output", 113: "virtual_terminal_event", 120: "authentication",
    121: "security_statistic", 122: "security_statistic_event",
}
_EVENT_SIZES = {1: 5, 2: 3, 3: 11, 4: 9, 5: 5, 6: 9, 7: 11, 8: 15}
_COUNTER_EVENT_SIZES = {1: 5, 2: 3, 3: 5, 4: 3, 5: 11, 6: 9, 7: 11, 8: 9}
OBJECT_SIZES: dict[int, dict[int, int]] = {
    1: {2: 1}, 2: {1: 1, 2: 7, 3: 3}, 3: {2: 1}, 4: {1: 1, 2: 7, 3: 3}, 10: {2: 1},
    11: {1: 1, 2: 7}, 12: {1: 11, 2: 11}, 13: {1: 1, 2: 7},
    20: {1: 5, 2: 3, 3: 5, 4: 3, 5: 4, 6: 2, 7: 4, 8: 2},
    21: {1: 5, 2: 3, 3: 5, 4: 3, 5: 11, 6: 9, 7: 11, 8: 9, 9: 4, 10: 2, 11: 4, 12: 2},
    22: _COUNTER_EVENT_SIZES, 23: _COUNTER_EVENT_SIZES,
    30: {1: 5, 2: 3, 3: 4, 4: 2, 5: 5, 6: 9},
    31: {1: 5, 2: 3, 3: 11, 4: 9, 5: 4, 6: 2, 7: 5, 8: 9},
    32: _EVENT_SIZES, 33: _EVENT_SIZES, 34: {1: 2, 2: 4, 3: 4},
    40: {1: 5, 2: 3, 3: 5, 4: 9}, 41: {1: 5, 2: 3, 3: 5, 4: 9},
    42: _EVENT_SIZES, 43: _EVENT_SIZES,
    50: {1: 6, 2: 10, 3: 6, 4: 11}, 51: {1: 6, 2: 6}, 52: {1: 2, 2: 2},
    60: {1: 0, 2: 0, 3: 0, 4: 0}, 101: {1: 2, 2: 4, 3: 8}, 102: {1: 1},
    120: {3: 6, 4: 2},
}
PACKED_BITS = {(1, 1): 1, (3, 1): 2, (10, 1): 1, (12, 3): 1, (80, 1): 1}
SIZED_BY_VARIATION = (110, 111, 112, 113)     # octet strings: the variation is the length
DEVICE_ATTRIBUTES = 0
ATTRIBUTE_PLACEHOLDER, ATTRIBUTE_LIST = 0, 254     # data type codes of device attributes
# Requests whose object headers name points and carry no object data.
HEADER_ONLY_FUNCTIONS = (1, 7, 8, 9, 10, 20, 21, 22)
FREEZE_AT_TIME = (11, 12)                    # a time object, then header-only point ranges
TIME_AND_DATE = 50
RANGE_FIELD_BYTES = {0: 1, 1: 2, 2: 4, 3: 1, 4: 2, 5: 4, 6: 0, 7: 1, 8: 2, 9: 4, 11: 1}
PREFIX_BYTES = {0: 0, 1: 1, 2: 2, 3: 4, 4: 1, 5: 2, 6: 4}
SIZE_PREFIXES = (4, 5, 6)
ABSOLUTE_ADDRESS = 3                         # range codes 3-5: one point's address
ALL_POINTS = 6
MAX_OBJECT_HEADERS = 64
FILE_CONTROL, TIME_DELAY = 70, 52
FILE_MODES = {0: "null", 1: "read", 2: "write", 3: "append"}
FILE_STATUS = {
    0: "success", 1: "permission_denied", 2: "invalid_mode", 3: "file_not_found",
    4: "file_locked", 5: "too_many_open", 6: "invalid_handle", 7: "write_block_size",
    8: "comm_lost", 9: "cannot_abort", 16: "not_opened", 17: "handle_expired",
    18: "buffer_overrun", 19: "fatal", 20: "block_sequence", 255: "undefined",
}


@dataclass(frozen=True, slots=True)
class ObjectHeader:
    group: int
    variation: int
    qualifier: int              # -1 when the fragment ends before it
    count: int                  # points addressed; 0 for "all points" (range code 6)
    range_start: int = -1       # -1: the header addresses points by count, not by range
    range_stop: int = -1

    @property
    def name(self) -> str:
        return code_name(GROUP_NAMES, self.group)

    @property
    def prefix_code(self) -> int:
        return (self.qualifier >> 4) & 0x07


def _uint(data: bytes, offset: int, size: int) -> int:
    return int.from_bytes(data[offset:offset + size], "little")


def parse_objects(data: bytes, function: int
                  ) -> tuple[tuple[ObjectHeader, ...], bool, dict[str, Any]]:
    """The object headers of a fragment's body, whether some could not be read (unknown
    object size, bad qualifier, cut short), and the details of file and time-delay objects.
    A header whose qualifier or range field is bad or cut short is kept, with a count of 0,
    as the last."""
    headers: list[ObjectHeader] = []
    details: dict[str, Any] = {}
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data) or len(headers) >= MAX_OBJECT_HEADERS:
            return tuple(headers), True, details
        header, offset = _object_header(data, offset)
        headers.append(header)
        end = None if offset < 0 else \
            _skip_objects(data, offset, header, _carries_data(header, function), details)
        if end is None:
            return tuple(headers), True, details
        offset = end
    return tuple(headers), False, details


def _object_header(data: bytes, offset: int) -> tuple[ObjectHeader, int]:
    """The header at ``offset`` and the offset after it (-1 when its range field is bad)."""
    group, variation = data[offset:offset + 2]
    if offset + 3 > len(data):
        return ObjectHeader(group, variation, -1, 0), -1
    qualifier = data[offset + 2]
    unreadable = ObjectHeader(group, variation, qualifier, 0), -1
    range_code = qualifier & 0x0F
    if (qualifier >> 4) & 0x07 not in PREFIX_BYTES:
        return unreadable
    offset += 3
    if range_code not in RANGE_FIELD_BYTES:        # reserved: no range field, as tshark reads it
        return ObjectHeader(group, variation, qualifier, 0), offset
    width = RANGE_FIELD_BYTES[range_code]
    if range_code == ALL_POINTS:
        return ObjectHeader(group, variation, qualifier, 0), offset
    fields = 2 if range_code < ABSOLUTE_ADDRESS else 1
    if offset + fields * width > len(data):
        return unreadable
    first, last = _uint(data, offset, width), _uint(data, offset + (fields - 1) * width, width)
    offset += fields * width
    if range_code > ALL_POINTS:
        return ObjectHeader(group, variation, qualifier, first), offset
    if last + 1 < first:
        return unreadable
    return ObjectHeader(group, variation, qualifier, last - first + 1, first, last), offset


def _carries_data(header: ObjectHeader, function: int) -> bool:
    if function in FREEZE_AT_TIME:
        return header.group == TIME_AND_DATE
    return function not in HEADER_ONLY_FUNCTIONS


def _skip_objects(data: bytes, offset: int, header: ObjectHeader, with_data: bool,
                  details: dict[str, Any]) -> int | None:
    """The offset after the objects that follow ``header``, or None when their size is
    unknown or they run past the fragment."""
    prefix = header.prefix_code
    if prefix in SIZE_PREFIXES:
        return _skip_sized(data, offset, header, PREFIX_BYTES[prefix], details)
    if not with_data:
        return _within(data, offset + header.count * PREFIX_BYTES[prefix])
    packed = PACKED_BITS.get((header.group, header.variation))
    if packed:
        return _within(data, offset + -(-header.count * packed // 8)) if not prefix else None
    size = _object_size(header)
    if size is None:
        return _skip_attributes(data, offset, header)
    end = _within(data, offset + header.count * (PREFIX_BYTES[prefix] + size))
    if end is not None and header.count and not prefix:
        _note_details(header, data[offset:offset + size], details)
    return end


def _within(data: bytes, end: int) -> int | None:
    return end if end <= len(data) else None


def _object_size(header: ObjectHeader) -> int | None:
    if header.group in SIZED_BY_VARIATION:
        return header.variation or None
    return OBJECT_SIZES.get(header.group, {}).get(header.variation)


def _skip_sized(data: bytes, offset: int, header: ObjectHeader, width: int,
                details: dict[str, Any]) -> int | None:
    """Objects each preceded by their own size (free-format objects such as files)."""
    for _ in range(header.count):
        if offset + width > len(data):
            return None
        size = _uint(data, offset, width)
        offset += width
        if offset + size > len(data):
            return None
        _note_details(header, data[offset:offset + size], details)
        offset += size
    return offset


def _skip_attributes(data: bytes, offset: int, header: ObjectHeader) -> int | None:
    """Device attributes: per point a data type code, a length and the value (a list of
    pairs for type 254; nothing after the code for the type-0 placeholder)."""
    if header.group != DEVICE_ATTRIBUTES or header.prefix_code:
        return None
    for _ in range(header.count):
        if offset >= len(data):
            return None
        data_type = data[offset]
        if data_type == ATTRIBUTE_PLACEHOLDER:
            offset += 1
            continue
        if offset + 2 > len(data):
            return None
        length = data[offset + 1]
        offset += 2 + (2 * length if data_type == ATTRIBUTE_LIST else length)
    return offset if offset <= len(data) else None


def _note_details(header: ObjectHeader, value: bytes, details: dict[str, Any]) -> None:
    if header.group == FILE_CONTROL and "file" not in details:
        details["file"] = _file_fields(header.variation, value)
    elif header.group == TIME_DELAY and "time_delay_ms" not in details and len(value) == 2:
        scale = 1000 if header.variation == 1 else 1
        details["time_delay_ms"] = _uint(value, 0, 2) * scale


def _file_fields(variation: int, value: bytes) -> dict[str, Any]:
    """What a file-control object says: the file name, handle, block, mode or status."""
    fields: dict[str, Any] = {"object_variation": variation}
    if variation in (3, 7):
        fields.update(_file_name_fields(variation, value))
    elif variation == 8:
        fields["name"] = value.decode("utf-8", "replace")
    elif variation in (4, 5, 6) and len(value) >= 8:
        fields["handle"] = _uint(value, 0, 4)
        if variation == 4:
            fields["size"] = _uint(value, 4, 4)
            status_at = 12
        else:
            block = _uint(value, 4, 4)
            fields.update(block=block & 0x7FFFFFFF, last_block=bool(block & 0x80000000))
            status_at = 8
        if variation != 5 and len(value) > status_at:
            fields["status_code"] = value[status_at]
            fields["status_name"] = code_name(FILE_STATUS, value[status_at])
    return fields


def _file_name_fields(variation: int, value: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    offset, size = _uint(value, 0, 2), _uint(value, 2, 2)
    name = value[offset:offset + size]
    if len(value) >= 4 and len(name) == size:
        fields["name"] = name.decode("utf-8", "replace")
    if variation == 3 and len(value) >= 22:
        # name offset, name size, created (6), permissions, authentication key, size, mode
        fields["size"] = _uint(value, 16, 4)
        mode = _uint(value, 20, 2)
        fields.update(mode=mode, mode_name=code_name(FILE_MODES, mode))
    elif variation == 7 and len(value) >= 10:
        fields["size"] = _uint(value, 6, 4)
    return fields


@dataclass(frozen=True, slots=True)
class Fragment:
    """An application-layer fragment."""

    control: int
    function_code: int
    iin: int | None
    objects: tuple[ObjectHeader, ...]
    truncated: bool
    details: dict[str, Any]
    length: int


def parse_fragment(data: bytes) -> Fragment | None:
    """The application header and object headers of a reassembled fragment."""
    if len(data) < 2:
        return None
    control, function = data[0], data[1]
    is_response = function in RESPONSES
    start = 4 if is_response else 2
    iin = int.from_bytes(data[2:4], "big") if is_response and len(data) >= 4 else None
    objects, truncated, details = parse_objects(data[start:], function)
    return Fragment(control, function, iin, objects, truncated, details, len(data))


def to_event(frame: LinkFrame | Junk, state: Dnp3Flow | None
             ) -> dict[str, Any] | list[dict[str, Any]]:
    if isinstance(frame, Junk):
        return _weird(Anomaly.BAD_START, f"skipped {frame.length} bytes")
    if frame.bad_crc is not None:
        return _weird(Anomaly.BAD_CRC, f"{frame.bad_crc} block")
    if not frame.carries_user_data:
        return {"network": {"protocol": "dnp3"}, "dnp3": _link_fields(frame)}
    flow = state if state is not None else Dnp3Flow()
    data, segments, anomaly = flow.add_segment(frame)
    if anomaly is not None:
        return _weird(anomaly)
    if data is None:
        return []
    fragment = parse_fragment(data)
    if fragment is None:
        return _weird(Anomaly.EMPTY_FRAGMENT)
    fields = _link_fields(frame) | _application_fields(fragment, frame, flow)
    fields["transport"] = {"segments": segments}
    return {"network": {"protocol": "dnp3"}, "dnp3": fields}


def _weird(name: str, detail: str | None = None) -> dict[str, Any]:
    weird = {"name": str(name), "analyzer": "dnp3"}
    if detail:
        weird["detail"] = detail
    return {"event": {"dataset": "weird"}, "network": {"protocol": "dnp3"}, "weird": weird}


def _link_fields(frame: LinkFrame) -> dict[str, Any]:
    control, function = frame.control, frame.link_function
    names = PRIMARY_FUNCTIONS if frame.primary else SECONDARY_FUNCTIONS
    link: dict[str, Any] = {
        "length": frame.length, "control": control, "dir": bool(control & 0x80),
        "prm": frame.primary, "function_code": function,
        "function_name": code_name(names, function),
    }
    if frame.primary:
        link.update(fcb=bool(control & 0x20), fcv=bool(control & 0x10))
    else:
        link["dfc"] = bool(control & 0x10)
    return {"source_address": frame.source, "destination_address": frame.destination,
            "link": link}


def _application_fields(fragment: Fragment, frame: LinkFrame, flow: Dnp3Flow
                        ) -> dict[str, Any]:
    control, function = fragment.control, fragment.function_code
    sequence = control & 0x0F
    fields: dict[str, Any] = {
        "function_code": function, "function_name": code_name(APP_FUNCTIONS, function),
        "is_response": function in RESPONSES,
        "unsolicited": function == UNSOLICITED_RESPONSE or bool(control & 0x10),
        "application": {"control": control, "fir": bool(control & 0x80),
                        "fin": bool(control & 0x40), "con": bool(control & 0x20),
                        "uns": bool(control & 0x10), "sequence": sequence,
                        "length": fragment.length},
    }
    if fragment.iin is not None:
        fields["iin"] = fragment.iin
        fields["iin_flags"] = [name for bit, name in IIN_FLAGS if fragment.iin & bit]
    _pair(fields, frame, flow, sequence, function)
    if fragment.objects:
        fields["objects"] = _object_arrays(fragment.objects)
    if fragment.truncated:
        fields["objects_truncated"] = True
    fields.update(fragment.details)
    return fields


def _pair(fields: dict[str, Any], frame: LinkFrame, flow: Dnp3Flow, sequence: int,
          function: int) -> None:
    """Name the request a solicited response answers (same sequence, reversed addresses)."""
    if function == 129:
        request = flow.request_of(frame, sequence)
        if request is not None:
            fields["request_function_code"] = request
            fields["request_function_name"] = code_name(APP_FUNCTIONS, request)
    elif function not in RESPONSES and function != 0:
        flow.remember_request(frame, sequence, function)


def _object_arrays(objects: tuple[ObjectHeader, ...]) -> dict[str, list[Any]]:
    return {
        "group": [o.group for o in objects], "variation": [o.variation for o in objects],
        "qualifier": [o.qualifier for o in objects], "name": [o.name for o in objects],
        "range_start": [o.range_start for o in objects],
        "range_stop": [o.range_stop for o in objects], "count": [o.count for o in objects],
    }


tcp_spec = AnalyzerSpec(
    name="dnp3", transport="tcp", ports=(PORT,), probe=probe, parse=parse_frame,
    to_event=to_event, max_pdu=MAX_FRAME, new_state=Dnp3Flow,
)
udp_spec = AnalyzerSpec(
    name="dnp3", transport="udp", ports=(PORT,), probe=probe, parse=parse_frame,
    to_event=to_event, max_pdu=MAX_FRAME, new_state=Dnp3Flow,
)
ANALYZERS = (tcp_spec, udp_spec)
