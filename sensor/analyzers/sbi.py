"""HTTP/2 service-based interface (SBI) between 5G core network functions, in clear text.

``parse`` cuts the byte stream into HTTP/2 frames (plus the client preface and the HTTP/1.1
head of an ``h2c`` upgrade); ``to_event`` decodes header blocks with one HPACK decoder per
direction and pairs frames into messages per stream. A request makes one event when it ends
(or when its response starts), a response one event when it ends; RST_STREAM and GOAWAY make
frame events.

>>> state = new_state()
>>> parse_pdu(PREFACE, to_server=True).consumed
24
>>> block = b"\\x82\\x86\\x44\\x0d/nnrf-disc/v1"    # GET, http, a literal :path
>>> frame = parse_pdu(bytes.fromhex("000011 01 05 00000001") + block, to_server=True).pdu
>>> event = to_event(frame, state)[0]
>>> event["http"]["request"]["method"], event["url"]["path"], event["sbi"]["stream_id"]
('GET', '/nnrf-disc/v1', 1)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any
from urllib.parse import parse_qsl

import hpack

from sensor.analyzers.base import (
    AnalyzerSpec,
    Fields,
    Malformed,
    NeedMore,
    Parsed,
    ParseResult,
    code_name,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER_LEN = 9
MAX_FRAME = 1 << 20            # above the 16 KiB default, for peers that raised it
PROBE_MAX_FRAME = 1 << 14      # a mid-stream start must look like defaults
MAX_HTTP1_HEAD = 16_384
MAX_HEADER_BLOCK = 65_536
MAX_BODY = 16_384              # body bytes kept per message for JSON fields
MAX_STREAMS = 64               # open streams tracked per connection
HPACK_TABLE_LIMIT = 65_536     # largest dynamic table a peer may announce
SBI_PORTS = (80, 7777, 8000, 8080, *range(29500, 29600))


class FrameType(IntEnum):
    DATA = 0
    HEADERS = 1
    PRIORITY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PUSH_PROMISE = 5
    PING = 6
    GOAWAY = 7
    WINDOW_UPDATE = 8
    CONTINUATION = 9


END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20

ERROR_NAMES = {
    0: "no_error", 1: "protocol_error", 2: "internal_error", 3: "flow_control_error",
    4: "settings_timeout", 5: "stream_closed", 6: "frame_size_error", 7: "refused_stream",
    8: "cancel", 9: "compression_error", 10: "connect_error", 11: "enhance_your_calm",
    12: "inadequate_security", 13: "http_1_1_required",
}
FRAME_NAMES = {t.value: t.name.lower() for t in FrameType}
# For probing: frames whose payload has a fixed length, and frames that only stream 0 carries.
FIXED_LENGTH = {FrameType.PRIORITY: 5, FrameType.RST_STREAM: 4, FrameType.PING: 8,
                FrameType.WINDOW_UPDATE: 4}
ON_STREAM_ZERO = {FrameType.SETTINGS, FrameType.PING, FrameType.GOAWAY}
NF_TYPES = frozenset({
    "NRF", "UDM", "AMF", "SMF", "AUSF", "NEF", "PCF", "SMSF", "NSSF", "UDR", "LMF", "GMLC",
    "5G_EIR", "SEPP", "UPF", "N3IWF", "AF", "UDSF", "BSF", "CHF", "NWDAF", "PCSCF", "CBCF",
    "HSS", "UCMF", "SOR_AF", "SPAF", "MME", "SCSAS", "SCEF", "SCP", "NSSAAF", "ICSCF", "SCSCF",
    "DRA", "IMS_AS", "AANF", "5G_DDNMF", "NSACF", "MFAF", "EASDF", "DCCF", "MB_SMF", "TSCTSF",
    "ADRF", "GBA_BSF", "CEF", "MB_UPF", "NSWOF", "PKMF", "MNPF", "SMS_GMSC", "SMS_IWMSC",
    "MBSF", "MBSTF", "PANF", "TNGF", "W_AGF", "TWIF",
})
SERVICE_PATTERN = re.compile(r"n[a-z0-9]+(?:-[a-z0-9]+)+")
VERSION_PATTERN = re.compile(r"v\d+")
IDENTIFIER_PATTERN = re.compile(r"(imsi|nai|gci|gli|suci|msisdn|extid|imei|imeisv)-[^/?&]+")
IDENTIFIER_FIELD = {"imsi": "supi", "nai": "supi", "gci": "supi", "gli": "supi", "suci": "suci",
                    "msisdn": "gpsi", "extid": "gpsi", "imei": "pei", "imeisv": "pei"}
HTTP1_START = re.compile(rb"(?:[A-Z]{3,16} |HTTP/1\.)")


class Anomaly(StrEnum):
    FRAME_TOO_LONG = "sbi_frame_too_long"
    BAD_PADDING = "sbi_bad_padding"
    HTTP1_HEAD_TOO_LONG = "sbi_http1_head_too_long"
    BAD_HTTP1_HEAD = "sbi_bad_http1_head"
    HPACK_ERROR = "sbi_hpack_error"
    HEADER_BLOCK_TOO_LONG = "sbi_header_block_too_long"


@dataclass(frozen=True, slots=True)
class Preface:
    """The client connection preface."""


@dataclass(frozen=True, slots=True)
class Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes              # without padding (and without the priority fields of HEADERS)
    to_server: bool


@dataclass(frozen=True, slots=True)
class Http1Head:
    """An HTTP/1.1 message head: the ``h2c`` upgrade request or the server's answer to it."""

    start_line: tuple[str, str, str]
    headers: tuple[tuple[str, str], ...]
    body_bytes: int
    to_server: bool


# --- parsing ---------------------------------------------------------------------------------


def probe(payload: bytes) -> bool | None:
    """The client preface, an ``h2c`` upgrade, or (mid-stream) plausible frame headers."""
    if payload.startswith(PREFACE):
        return True
    if len(payload) < len(PREFACE) and PREFACE.startswith(payload):
        return None
    if HTTP1_START.match(payload):
        return _probe_upgrade(payload)
    return _probe_frames(payload)


def _probe_upgrade(payload: bytes) -> bool | None:
    end = payload.find(b"\r\n\r\n")
    if end < 0:
        return None if len(payload) < MAX_HTTP1_HEAD else False
    head = _http1_head(payload[:end], to_server=True, body_bytes=0)
    return head is not None and _is_h2c_upgrade(head)


def _probe_frames(payload: bytes) -> bool | None:
    offset, checked = 0, 0
    while offset + FRAME_HEADER_LEN <= len(payload) and checked < 4:
        length = int.from_bytes(payload[offset:offset + 3], "big")
        kind, stream_id = payload[offset + 3], _stream_id(payload, offset + 5)
        if not _plausible_frame(length, kind, stream_id):
            return False
        offset, checked = offset + FRAME_HEADER_LEN + length, checked + 1
    return True if checked else None


def _plausible_frame(length: int, kind: int, stream_id: int) -> bool:
    if kind > FrameType.CONTINUATION or length > PROBE_MAX_FRAME:
        return False
    frame_type = FrameType(kind)
    if FIXED_LENGTH.get(frame_type, length) != length:
        return False
    if frame_type == FrameType.SETTINGS and length % 6:
        return False
    if frame_type == FrameType.WINDOW_UPDATE:
        return True
    return (stream_id == 0) == (frame_type in ON_STREAM_ZERO)


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if buf.startswith(PREFACE):
        return Parsed(Preface(), len(PREFACE))
    if len(buf) < len(PREFACE) and PREFACE.startswith(buf):
        return NeedMore(len(PREFACE))
    if HTTP1_START.match(buf):
        return _parse_http1(buf, to_server)
    return _parse_frame(buf, to_server)


def _parse_frame(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < FRAME_HEADER_LEN:
        return NeedMore(FRAME_HEADER_LEN)
    length = int.from_bytes(buf[:3], "big")
    if length > MAX_FRAME:
        return Malformed(Anomaly.FRAME_TOO_LONG)
    total = FRAME_HEADER_LEN + length
    if len(buf) < total:
        return NeedMore(total)
    kind, flags = buf[3], buf[4]
    payload = _unpadded(kind, flags, buf[FRAME_HEADER_LEN:total])
    if payload is None:
        return Malformed(Anomaly.BAD_PADDING)
    return Parsed(Frame(kind, flags, _stream_id(buf, 5), payload, to_server), total)


def _stream_id(buf: bytes, offset: int) -> int:
    return int.from_bytes(buf[offset:offset + 4], "big") & 0x7FFF_FFFF


def _unpadded(kind: int, flags: int, payload: bytes) -> bytes | None:
    """The payload without its padding and, for HEADERS, without the priority fields."""
    padded = kind in (FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE) and flags & PADDED
    if padded:
        if not payload or payload[0] >= len(payload):
            return None
        payload = payload[1:len(payload) - payload[0]]
    if kind == FrameType.HEADERS and flags & PRIORITY_FLAG:
        return payload[5:] if len(payload) >= 5 else None
    return payload


def _parse_http1(buf: bytes, to_server: bool) -> ParseResult:
    end = buf.find(b"\r\n\r\n", 0, MAX_HTTP1_HEAD)
    if end < 0:
        if len(buf) >= MAX_HTTP1_HEAD:
            return Malformed(Anomaly.HTTP1_HEAD_TOO_LONG)
        return NeedMore(len(buf) + 1)
    probe_head = _http1_head(buf[:end], to_server, 0)
    if probe_head is None:
        return Malformed(Anomaly.BAD_HTTP1_HEAD)
    body = _content_length(probe_head)
    if body is None:
        return Malformed(Anomaly.BAD_HTTP1_HEAD)
    total = end + 4 + body
    if len(buf) < total:
        return NeedMore(total)
    return Parsed(Http1Head(probe_head.start_line, probe_head.headers, body, to_server), total)


def _http1_head(raw: bytes, to_server: bool, body_bytes: int) -> Http1Head | None:
    lines = raw.decode("latin-1").split("\r\n")
    start = lines[0].split(" ", 2)
    if len(start) != 3:
        return None
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers.append((name.strip().lower(), value.strip()))
    return Http1Head((start[0], start[1], start[2]), tuple(headers), body_bytes, to_server)


def _content_length(head: Http1Head) -> int | None:
    value = dict(head.headers).get("content-length", "0")
    return int(value) if value.isdigit() and int(value) <= MAX_FRAME else None


def _is_h2c_upgrade(head: Http1Head) -> bool:
    upgrade = dict(head.headers).get("upgrade", "").lower()
    is_request = not head.start_line[0].startswith("HTTP/")
    return "h2c" in upgrade and (is_request or head.start_line[1] == "101")


# --- per-flow state --------------------------------------------------------------------------


@dataclass(slots=True)
class Message:
    """One half of a stream: a request or a response."""

    headers: dict[str, str] | None = None
    body: bytearray = field(default_factory=bytearray)
    body_bytes: int = 0
    emitted: bool = False


@dataclass(slots=True)
class Stream:
    request: Message = field(default_factory=Message)
    response: Message = field(default_factory=Message)


@dataclass(slots=True)
class HeaderBlock:
    """A header block still waiting for its CONTINUATION frames."""

    stream_id: int
    end_stream: bool
    fragment: bytearray
    promised: int | None = None


class SbiState:
    """HPACK contexts (index 0: client to server) and open streams of one connection."""

    def __init__(self) -> None:
        self.decoders = (_decoder(), _decoder())
        self.pending: list[HeaderBlock | None] = [None, None]
        self.hpack_failed = [False, False]
        self.streams: dict[int, Stream] = {}

    def stream(self, stream_id: int) -> Stream:
        found = self.streams.get(stream_id)
        if found is None:
            if len(self.streams) >= MAX_STREAMS:
                del self.streams[next(iter(self.streams))]
            found = self.streams[stream_id] = Stream()
        return found

    def close_if_done(self, stream_id: int) -> None:
        found = self.streams.get(stream_id)
        if found is not None and found.request.emitted and found.response.emitted:
            del self.streams[stream_id]


def _decoder() -> hpack.Decoder:
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = HPACK_TABLE_LIMIT
    return decoder


def new_state() -> SbiState:
    return SbiState()


# --- events ----------------------------------------------------------------------------------


def to_event(pdu: Frame | Http1Head | Preface, state: SbiState) -> list[Fields]:
    if isinstance(pdu, Http1Head):
        return _upgrade_events(pdu, state)
    if isinstance(pdu, Preface):
        return []
    handler = FRAME_HANDLERS.get(pdu.type)
    return handler(pdu, state) if handler else []


def _upgrade_events(head: Http1Head, state: SbiState) -> list[Fields]:
    """The request of an ``h2c`` upgrade is stream 1 of the connection (RFC 7540 §3.2)."""
    if not head.to_server or not _is_h2c_upgrade(head):
        return []
    method, target, _ = head.start_line
    headers = dict(head.headers)
    headers.update({":method": method, ":path": target, ":authority": headers.get("host", "")})
    message = state.stream(1).request
    message.headers, message.body_bytes, message.emitted = headers, head.body_bytes, True
    event = _request_event(1, message)
    event["http"]["version"] = "1.1"
    return [event]


def _on_headers(frame: Frame, state: SbiState) -> list[Fields]:
    block = HeaderBlock(frame.stream_id, bool(frame.flags & END_STREAM), bytearray(frame.payload))
    return _start_block(frame, block, state)


def _on_push_promise(frame: Frame, state: SbiState) -> list[Fields]:
    promised = _stream_id(frame.payload, 0) if len(frame.payload) >= 4 else 0
    block = HeaderBlock(frame.stream_id, False, bytearray(frame.payload[4:]), promised)
    return _start_block(frame, block, state)


def _start_block(frame: Frame, block: HeaderBlock, state: SbiState) -> list[Fields]:
    side = _side(frame)
    state.pending[side] = block
    return _finish_block(side, state) if frame.flags & END_HEADERS else []


def _on_continuation(frame: Frame, state: SbiState) -> list[Fields]:
    side = _side(frame)
    block = state.pending[side]
    if block is None or block.stream_id != frame.stream_id:
        return []
    block.fragment += frame.payload
    if len(block.fragment) > MAX_HEADER_BLOCK:
        state.pending[side] = None
        return [_weird(Anomaly.HEADER_BLOCK_TOO_LONG, f"stream {frame.stream_id}")]
    return _finish_block(side, state) if frame.flags & END_HEADERS else []


def _finish_block(side: int, state: SbiState) -> list[Fields]:
    block = state.pending[side]
    assert block is not None
    state.pending[side] = None
    try:
        headers = _decode_headers(state.decoders[side], bytes(block.fragment))
    except (hpack.HPACKError, ValueError) as exc:
        return _hpack_failure(side, state, block.stream_id, exc)
    if block.promised is not None:
        promised = state.stream(block.promised).request
        promised.headers, promised.emitted = headers, True
        return []
    if side == 0:
        return _request_headers(block, headers, state)
    return _response_headers(block, headers, state)


def _decode_headers(decoder: hpack.Decoder, block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in decoder.decode(block, raw=True):
        key = name.decode("latin-1").lower()
        text = value.decode("utf-8", "replace")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _hpack_failure(side: int, state: SbiState, stream_id: int, exc: Exception) -> list[Fields]:
    """Report the first failure per direction: after it the context is out of step."""
    if state.hpack_failed[side]:
        return []
    state.hpack_failed[side] = True
    return [_weird(Anomaly.HPACK_ERROR, f"stream {stream_id}: {type(exc).__name__}")]


def _request_headers(block: HeaderBlock, headers: dict[str, str], state: SbiState
                     ) -> list[Fields]:
    message = state.stream(block.stream_id).request
    if message.headers is None:
        message.headers = headers
    return _end_request(block.stream_id, state) if block.end_stream else []


def _response_headers(block: HeaderBlock, headers: dict[str, str], state: SbiState
                      ) -> list[Fields]:
    status = headers.get(":status", "")
    if status.startswith("1"):
        return []
    stream = state.stream(block.stream_id)
    events = _flush_request(block.stream_id, stream)
    if stream.response.headers is None:
        stream.response.headers = headers
    if block.end_stream:
        events += _end_response(block.stream_id, state)
    return events


def _on_data(frame: Frame, state: SbiState) -> list[Fields]:
    stream = state.stream(frame.stream_id)
    message = stream.request if frame.to_server else stream.response
    message.body_bytes += len(frame.payload)
    room = MAX_BODY - len(message.body)
    if room > 0:
        message.body += frame.payload[:room]
    if not frame.flags & END_STREAM:
        return []
    if frame.to_server:
        return _end_request(frame.stream_id, state)
    return _flush_request(frame.stream_id, stream) + _end_response(frame.stream_id, state)


def _end_request(stream_id: int, state: SbiState) -> list[Fields]:
    events = _flush_request(stream_id, state.stream(stream_id))
    state.close_if_done(stream_id)
    return events


def _flush_request(stream_id: int, stream: Stream) -> list[Fields]:
    message = stream.request
    if message.emitted or message.headers is None:
        return []
    message.emitted = True
    return [_request_event(stream_id, message)]


def _end_response(stream_id: int, state: SbiState) -> list[Fields]:
    stream = state.stream(stream_id)
    stream.request.emitted = True
    message = stream.response
    if message.emitted or message.headers is None:
        return []
    message.emitted = True
    state.close_if_done(stream_id)
    return [_response_event(stream_id, stream)]


def _on_rst_stream(frame: Frame, state: SbiState) -> list[Fields]:
    stream = state.streams.pop(frame.stream_id, None)
    events: list[Fields] = []
    if stream is not None:
        events += _flush_request(frame.stream_id, stream)
        if stream.response.headers is not None and not stream.response.emitted:
            events.append(_response_event(frame.stream_id, stream))
    code = _u32(frame.payload, 0)
    return [*events, _frame_event(frame, {"error_code": code})]


def _on_goaway(frame: Frame, state: SbiState) -> list[Fields]:
    fields = {"last_stream_id": _u32(frame.payload, 0) & 0x7FFF_FFFF,
              "error_code": _u32(frame.payload, 4)}
    return [_frame_event(frame, fields)]


def _u32(payload: bytes, offset: int) -> int:
    return int.from_bytes(payload[offset:offset + 4], "big")


def _side(frame: Frame) -> int:
    return 0 if frame.to_server else 1


FRAME_HANDLERS = {
    FrameType.HEADERS: _on_headers, FrameType.CONTINUATION: _on_continuation,
    FrameType.PUSH_PROMISE: _on_push_promise, FrameType.DATA: _on_data,
    FrameType.RST_STREAM: _on_rst_stream, FrameType.GOAWAY: _on_goaway,
}


# --- event fields ----------------------------------------------------------------------------


def _envelope(stream_id: int, sbi: dict[str, Any]) -> Fields:
    return {"network": {"protocol": "http2"}, "http": {"version": "2"},
            "sbi": {"stream_id": stream_id, **sbi}}


def _frame_event(frame: Frame, fields: dict[str, Any]) -> Fields:
    code = fields["error_code"]
    return _envelope(frame.stream_id, {"frame_type": FRAME_NAMES[frame.type], **fields,
                                       "error_name": code_name(ERROR_NAMES, code)})


def _weird(reason: Anomaly, detail: str | None = None) -> Fields:
    weird = {"name": str(reason), "analyzer": "sbi"}
    if detail:
        weird["detail"] = detail
    return {"event": {"dataset": "weird"}, "network": {"protocol": "http2"}, "weird": weird}


def _request_event(stream_id: int, message: Message) -> Fields:
    headers = message.headers or {}
    event = _envelope(stream_id, {"is_response": False})
    request: dict[str, Any] = {"body": {"bytes": message.body_bytes}}
    _put(request, "method", headers.get(":method"))
    _put(request, "mime_type", headers.get("content-type"))
    event["http"]["request"] = request
    _put(event, "user_agent", {"original": headers["user-agent"]} if "user-agent" in headers
         else None)
    _add_target(event, headers)
    _add_nf_types(event["sbi"], headers)
    _add_body_fields(event["sbi"], headers, message, is_error=False)
    return event


def _response_event(stream_id: int, stream: Stream) -> Fields:
    headers = stream.response.headers or {}
    event = _envelope(stream_id, {"is_response": True})
    response: dict[str, Any] = {"body": {"bytes": stream.response.body_bytes}}
    status = headers.get(":status", "")
    if status.isdigit():
        response["status_code"] = int(status)
    _put(response, "mime_type", headers.get("content-type"))
    event["http"]["response"] = response
    request = stream.request.headers
    if request is not None:
        _put(event["http"], "request", {"method": request[":method"]} if ":method" in request
             else None)
        _add_target(event, request)
    is_error = response.get("status_code", 0) >= 400
    _add_body_fields(event["sbi"], headers, stream.response, is_error)
    return event


def _put(container: dict[str, Any], key: str, value: Any) -> None:
    if value:
        container[key] = value


def _add_target(event: Fields, headers: dict[str, str]) -> None:
    """``url.*`` from the pseudo-headers, and the SBI service and identifiers of the path."""
    path, _, query = headers.get(":path", "").partition("?")
    url: dict[str, Any] = {}
    _put(url, "path", path)
    _put(url, "query", query)
    _put(url, "scheme", headers.get(":scheme"))
    _add_authority(url, headers.get(":authority") or headers.get("host", ""))
    _put(event, "url", url)
    _add_service(event["sbi"], path)
    _add_identifiers(event["sbi"], [*path.split("/"), *(v for _, v in parse_qsl(query))])


def _add_authority(url: dict[str, Any], authority: str) -> None:
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        _put(url, "username", userinfo.partition(":")[0])
    host, colon, port = hostport.rpartition(":")
    if colon and port.isdigit() and not host.endswith(":"):
        url["port"] = int(port)
        hostport = host
    _put(url, "domain", hostport.strip("[]"))


def _add_service(sbi: dict[str, Any], path: str) -> None:
    """``/nudm-sdm/v2/imsi-001010000000001/am-data``: service, API version, resource."""
    parts = path.lstrip("/").split("/", 2)
    if not SERVICE_PATTERN.fullmatch(parts[0]):
        return
    sbi["service"] = parts[0]
    producer = parts[0][1:].split("-")[0].upper().replace("5G", "5G_")
    _put(sbi, "producer_nf_type", producer if producer in NF_TYPES else None)
    if len(parts) > 1 and VERSION_PATTERN.fullmatch(parts[1]):
        sbi["api_version"] = parts[1]
        _put(sbi, "resource", parts[2] if len(parts) > 2 else None)


def _add_identifiers(sbi: dict[str, Any], values: list[str]) -> None:
    for value in values:
        found = IDENTIFIER_PATTERN.fullmatch(value)
        if found:
            sbi.setdefault(IDENTIFIER_FIELD[found.group(1)], value)


def _add_nf_types(sbi: dict[str, Any], headers: dict[str, str]) -> None:
    """Requester and target NF types, from the query, the discovery headers or the
    User-Agent (``AMF-<instance id>``, TS 29.500 §5.2.2.2)."""
    query = dict(parse_qsl(headers.get(":path", "").partition("?")[2]))
    agent = headers.get("user-agent", "").split("-")[0].upper()
    requester = (query.get("requester-nf-type")
                 or headers.get("3gpp-sbi-discovery-requester-nf-type")
                 or (agent if agent in NF_TYPES else None))
    target = query.get("target-nf-type") or headers.get("3gpp-sbi-discovery-target-nf-type")
    _put(sbi, "requester_nf_type", requester)
    _put(sbi, "target_nf_type", target)


def _add_body_fields(sbi: dict[str, Any], headers: dict[str, str], message: Message,
                     is_error: bool) -> None:
    """NF profile (NRF management), problem details (errors) and subscriber identifiers."""
    body = _json_body(headers, message)
    if body is None:
        return
    if sbi.get("service") == "nnrf-nfm" or ("nfType" in body and "nfInstanceId" in body):
        for key, name in (("nfType", "nf_type"), ("nfInstanceId", "nf_instance_id"),
                          ("nfStatus", "nf_status")):
            _put(sbi, name, _text(body.get(key)))
    if is_error:
        _put(sbi, "cause", _text(body.get("cause")))
        _put(sbi, "problem_title", _text(body.get("title")))
    _add_identifiers(sbi, [v for k in ("supi", "supiOrSuci", "gpsi", "pei")
                           if isinstance(v := body.get(k), str)])


def _json_body(headers: dict[str, str], message: Message) -> dict[str, Any] | None:
    if "json" not in headers.get("content-type", "") or message.body_bytes > MAX_BODY:
        return None
    try:
        body = json.loads(bytes(message.body))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


ANALYZER = AnalyzerSpec(
    name="sbi", transport="tcp", ports=SBI_PORTS, probe=probe, parse=parse_pdu,
    to_event=to_event, max_pdu=FRAME_HEADER_LEN + MAX_FRAME, new_state=new_state,
)
