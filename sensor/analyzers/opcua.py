"""OPC UA binary (UA TCP, OPC 10000-6 §7): one event per message chunk.

Every chunk yields its header (message type, chunk type, size, secure channel id). HEL/ACK/ERR/RHE
bodies are always clear; OPN bodies are clear only under security policy None, and the per-flow
state remembers the channel's policy so later MSG chunks are decoded only when they are not
encrypted. Mid-stream, the parser skips to the next plausible chunk header and says how much it
skipped, once per run of garbage.

>>> hel = bytes.fromhex("48454c46 2a000000 00000000 00000100 00000100 00000001 00000000"
...                     "0a000000") + b"opc.tcp://"
>>> result = parse_pdu(hel, to_server=True)
>>> result.consumed, result.pdu.message_type
(42, 'HEL')
>>> to_event(result.pdu, OpcuaState())["opcua"]["endpoint_url"]
'opc.tcp://'
"""

from __future__ import annotations

import base64
import re
import struct
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed, ParseResult

HEADER = struct.Struct("<3scI")            # message type, chunk type, message size
MAX_CHUNK = 1 << 20                        # far above the 64 KiB buffers peers negotiate
SCAN_LIMIT = 1 << 16                       # garbage longer than this ends the search
HEADER_RE = re.compile(rb"(?:HEL|ACK|OPN|MSG|CLO|ERR|RHE)[FCA]")
MIN_SIZE = {"HEL": 32, "ACK": 28, "ERR": 16, "RHE": 16, "OPN": 32, "MSG": 24, "CLO": 24}
SINGLE_CHUNK = frozenset({"HEL", "ACK", "ERR", "RHE"})
MAX_NODE_IDS = 64                          # node ids kept per request
MAX_OPEN_MESSAGES = 64                     # multi-chunk messages tracked per flow
MAX_NESTING = 8                            # diagnostic infos and variants nest no deeper

POLICY_PREFIX = "http://opcfoundation.org/UA/SecurityPolicy#"
POLICY_NONE = POLICY_PREFIX + "None"
SECURITY_MODES = {0: "Invalid", 1: "None", 2: "Sign", 3: "SignAndEncrypt"}
TOKEN_REQUEST_TYPES = {0: "issue", 1: "renew"}
IDENTITY_TOKENS = {321: "anonymous", 324: "username", 327: "certificate", 940: "issued"}

SERVICES = {
    397: "ServiceFault", 422: "FindServersRequest", 425: "FindServersResponse",
    428: "GetEndpointsRequest", 431: "GetEndpointsResponse", 437: "RegisterServerRequest",
    440: "RegisterServerResponse", 446: "OpenSecureChannelRequest",
    449: "OpenSecureChannelResponse", 452: "CloseSecureChannelRequest",
    455: "CloseSecureChannelResponse", 461: "CreateSessionRequest",
    464: "CreateSessionResponse", 467: "ActivateSessionRequest", 470: "ActivateSessionResponse",
    473: "CloseSessionRequest", 476: "CloseSessionResponse", 479: "CancelRequest",
    482: "CancelResponse", 488: "AddNodesRequest", 491: "AddNodesResponse",
    494: "AddReferencesRequest", 497: "AddReferencesResponse", 500: "DeleteNodesRequest",
    503: "DeleteNodesResponse", 506: "DeleteReferencesRequest", 509: "DeleteReferencesResponse",
    527: "BrowseRequest", 530: "BrowseResponse", 533: "BrowseNextRequest",
    536: "BrowseNextResponse", 554: "TranslateBrowsePathsToNodeIdsRequest",
    557: "TranslateBrowsePathsToNodeIdsResponse", 560: "RegisterNodesRequest",
    563: "RegisterNodesResponse", 566: "UnregisterNodesRequest", 569: "UnregisterNodesResponse",
    615: "QueryFirstRequest", 618: "QueryFirstResponse", 621: "QueryNextRequest",
    624: "QueryNextResponse", 631: "ReadRequest", 634: "ReadResponse",
    664: "HistoryReadRequest", 667: "HistoryReadResponse", 673: "WriteRequest",
    676: "WriteResponse", 700: "HistoryUpdateRequest", 703: "HistoryUpdateResponse",
    712: "CallRequest", 715: "CallResponse", 751: "CreateMonitoredItemsRequest",
    754: "CreateMonitoredItemsResponse", 763: "ModifyMonitoredItemsRequest",
    766: "ModifyMonitoredItemsResponse", 769: "SetMonitoringModeRequest",
    772: "SetMonitoringModeResponse", 775: "SetTriggeringRequest", 778: "SetTriggeringResponse",
    781: "DeleteMonitoredItemsRequest", 784: "DeleteMonitoredItemsResponse",
    787: "CreateSubscriptionRequest", 790: "CreateSubscriptionResponse",
    793: "ModifySubscriptionRequest", 796: "ModifySubscriptionResponse",
    799: "SetPublishingModeRequest", 802: "SetPublishingModeResponse", 826: "PublishRequest",
    829: "PublishResponse", 832: "RepublishRequest", 835: "RepublishResponse",
    841: "TransferSubscriptionsRequest", 844: "TransferSubscriptionsResponse",
    847: "DeleteSubscriptionsRequest", 850: "DeleteSubscriptionsResponse",
    12208: "FindServersOnNetworkRequest", 12209: "FindServersOnNetworkResponse",
    12211: "RegisterServer2Request", 12212: "RegisterServer2Response",
}
STATUS_NAMES = {
    0x00000000: "Good", 0x40000000: "Uncertain", 0x80000000: "Bad",
    0x80010000: "BadUnexpectedError", 0x80020000: "BadInternalError",
    0x80030000: "BadOutOfMemory", 0x80050000: "BadCommunicationError",
    0x80060000: "BadEncodingError", 0x80070000: "BadDecodingError",
    0x80080000: "BadEncodingLimitsExceeded", 0x80090000: "BadUnknownResponse",
    0x800A0000: "BadTimeout", 0x800B0000: "BadServiceUnsupported", 0x800C0000: "BadShutdown",
    0x800D0000: "BadServerNotConnected", 0x800E0000: "BadServerHalted",
    0x800F0000: "BadNothingToDo", 0x80100000: "BadTooManyOperations",
    0x80120000: "BadCertificateInvalid", 0x80130000: "BadSecurityChecksFailed",
    0x801A0000: "BadCertificateUntrusted", 0x801D0000: "BadCertificateRevoked",
    0x801F0000: "BadUserAccessDenied", 0x80200000: "BadIdentityTokenInvalid",
    0x80210000: "BadIdentityTokenRejected", 0x80220000: "BadSecureChannelIdInvalid",
    0x80230000: "BadInvalidTimestamp", 0x80240000: "BadNonceInvalid",
    0x80250000: "BadSessionIdInvalid", 0x80260000: "BadSessionClosed",
    0x80270000: "BadSessionNotActivated", 0x80280000: "BadSubscriptionIdInvalid",
    0x802A0000: "BadRequestHeaderInvalid", 0x802B0000: "BadTimestampsToReturnInvalid",
    0x802C0000: "BadRequestCancelledByClient", 0x80330000: "BadNodeIdInvalid",
    0x80340000: "BadNodeIdUnknown", 0x80350000: "BadAttributeIdInvalid",
    0x80360000: "BadIndexRangeInvalid", 0x80390000: "BadDataEncodingUnsupported",
    0x803A0000: "BadNotReadable", 0x803B0000: "BadNotWritable", 0x803C0000: "BadOutOfRange",
    0x803D0000: "BadNotSupported", 0x803E0000: "BadNotFound",
    0x804A0000: "BadContinuationPointInvalid", 0x804B0000: "BadNoContinuationPoints",
    0x804D0000: "BadBrowseDirectionInvalid", 0x80540000: "BadSecurityModeRejected",
    0x80550000: "BadSecurityPolicyRejected", 0x80560000: "BadTooManySessions",
    0x80570000: "BadUserSignatureInvalid", 0x80580000: "BadApplicationSignatureInvalid",
    0x806B0000: "BadViewIdUnknown", 0x80700000: "BadMaxAgeInvalid",
    0x80730000: "BadWriteNotSupported", 0x80740000: "BadTypeMismatch",
    0x80750000: "BadMethodInvalid", 0x80760000: "BadArgumentsMissing",
    0x80780000: "BadTooManyPublishRequests", 0x80790000: "BadNoSubscription",
    0x807D0000: "BadTcpServerTooBusy", 0x807E0000: "BadTcpMessageTypeInvalid",
    0x807F0000: "BadTcpSecureChannelUnknown", 0x80800000: "BadTcpMessageTooLarge",
    0x80810000: "BadTcpNotEnoughResources", 0x80820000: "BadTcpInternalError",
    0x80830000: "BadTcpEndpointUrlInvalid", 0x80840000: "BadRequestInterrupted",
    0x80850000: "BadRequestTimeout", 0x80860000: "BadSecureChannelClosed",
    0x80870000: "BadSecureChannelTokenUnknown", 0x80880000: "BadSequenceNumberInvalid",
    0x80AE0000: "BadConnectionClosed", 0x80AF0000: "BadInvalidState",
    0x80B80000: "BadRequestTooLarge", 0x80B90000: "BadResponseTooLarge",
    0x80BE0000: "BadProtocolVersionUnsupported", 0x80C60000: "BadIdentityChangeNotSupported",
    0x810E0000: "BadLicenseExpired",
}


class Anomaly(StrEnum):
    NO_CHUNK_HEADER = "opcua_no_chunk_header"      # a long run of bytes with no chunk header
    RESYNC = "opcua_resync"                        # bytes skipped to reach the next chunk


def status_name(code: int) -> str:
    """The name of a status code; its low 16 bits are flags and do not change the name.

    >>> status_name(0x80340000), status_name(0x80340400), status_name(0x81230000)
    ('BadNodeIdUnknown', 'BadNodeIdUnknown', 'unknown-0x81230000')
    """
    return STATUS_NAMES.get(code & 0xFFFF0000, f"unknown-0x{code:08X}")


def policy_name(uri: str) -> str:
    """The short name of a security policy URI (the part after ``#``)."""
    return uri.removeprefix(POLICY_PREFIX) if uri.startswith(POLICY_PREFIX) else uri


@dataclass(frozen=True, slots=True)
class Chunk:
    message_type: str
    chunk_type: str
    size: int
    body: bytes                    # everything after the 8-byte header


@dataclass(frozen=True, slots=True)
class Skipped:
    """Bytes that held no chunk header, skipped to resynchronise."""

    length: int


@dataclass(slots=True)
class OpcuaState:
    """What one connection's secure channel negotiated (a UA TCP connection carries one)."""

    policy_uri: str | None = None              # None: the handshake was not seen
    security_mode: int | None = None
    chunked: set[int] = field(default_factory=set)   # request ids of unfinished messages

    def continues(self, chunk_type: str, request_id: int) -> bool:
        """Whether this chunk continues a message (only a first chunk starts with its type)."""
        continued = request_id in self.chunked
        if chunk_type != "C":
            self.chunked.discard(request_id)
        elif len(self.chunked) < MAX_OPEN_MESSAGES:
            self.chunked.add(request_id)
        return continued


# --- framing ------------------------------------------------------------------------------------

def header_at(buf: bytes, offset: int = 0) -> tuple[str, str, int] | None:
    """The (message type, chunk type, size) of a plausible chunk header at ``offset``."""
    if len(buf) - offset < HEADER.size:
        return None
    raw_type, raw_chunk, size = HEADER.unpack_from(buf, offset)
    if not HEADER_RE.fullmatch(raw_type + raw_chunk):
        return None
    message_type, chunk_type = raw_type.decode(), raw_chunk.decode()
    if message_type in SINGLE_CHUNK and chunk_type != "F":
        return None
    if not MIN_SIZE[message_type] <= size <= MAX_CHUNK:
        return None
    return message_type, chunk_type, size


def next_header(buf: bytes, start: int) -> int | None:
    """Where the next plausible chunk header begins, from ``start``."""
    for match in HEADER_RE.finditer(buf, start):
        if header_at(buf, match.start()):
            return match.start()
    return None


def probe(payload: bytes) -> bool | None:
    """A plausible chunk header, at the start or (joining mid-stream) further on."""
    if header_at(payload) or next_header(payload[:SCAN_LIMIT], 0) is not None:
        return True
    return None if len(payload) < SCAN_LIMIT else False


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    if len(buf) < HEADER.size:
        return NeedMore(HEADER.size)
    found = header_at(buf)
    if found is None:
        return _skip_garbage(buf)
    message_type, chunk_type, size = found
    if len(buf) < size:
        return NeedMore(size)
    return Parsed(Chunk(message_type, chunk_type, size, bytes(buf[HEADER.size:size])), size)


def _skip_garbage(buf: bytes) -> ParseResult:
    start = next_header(buf, 1)
    if start is not None:
        return Parsed(Skipped(start), start)
    if len(buf) >= SCAN_LIMIT:
        return Malformed(Anomaly.NO_CHUNK_HEADER)
    return NeedMore(len(buf) + 1)


# --- the binary encoding (OPC 10000-6 §5.2) -------------------------------------------------------

class Truncated(Exception):
    """The body ended (or claimed more than it holds) before the field being read."""


class Reader:
    """A cursor over a chunk body, reading the UA binary built-in types."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.pos = data, offset

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise Truncated
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def unpack(self, fmt: str) -> Any:
        (value,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return value

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return self.unpack("<H")

    def u32(self) -> int:
        return self.unpack("<I")

    def i32(self) -> int:
        return self.unpack("<i")

    def bytestring(self) -> bytes | None:
        length = self.i32()
        return None if length < 0 else self.take(length)

    def string(self) -> str | None:
        raw = self.bytestring()
        return None if raw is None else raw.decode("utf-8", "replace")

    def array_length(self) -> int:
        """An array's element count; each element takes at least one byte."""
        length = self.i32()
        if length > len(self.data) - self.pos:
            raise Truncated
        return max(length, 0)

    def node_id(self) -> str:
        return self._node_id(self.u8() & 0x3F)

    def expanded_node_id(self) -> str:
        mask = self.u8()
        text = self._node_id(mask & 0x3F)
        if mask & 0x80:
            text = f"nsu={self.string()};{text.split(';')[-1]}"
        if mask & 0x40:
            text = f"svr={self.u32()};{text}"
        return text

    def _node_id(self, encoding: int) -> str:
        if encoding == 0:
            return node_id_text(0, "i", self.u8())
        if encoding == 1:
            return node_id_text(self.u8(), "i", self.u16())
        namespace = self.u16()
        if encoding == 2:
            return node_id_text(namespace, "i", self.u32())
        if encoding == 3:
            return node_id_text(namespace, "s", self.string() or "")
        if encoding == 4:
            return node_id_text(namespace, "g", uuid.UUID(bytes_le=self.take(16)))
        if encoding == 5:
            raw = self.bytestring() or b""
            return node_id_text(namespace, "b", base64.b64encode(raw).decode())
        raise Truncated


def node_id_text(namespace: int, kind: str, identifier: object) -> str:
    """A node id in the standard string form.

    >>> node_id_text(2, "s", "Tag1"), node_id_text(0, "i", 85)
    ('ns=2;s=Tag1', 'i=85')
    """
    return f"{kind}={identifier}" if namespace == 0 else f"ns={namespace};{kind}={identifier}"


def numeric_id(text: str) -> int | None:
    """The number of a namespace-0 numeric node id (``i=631``), else None."""
    return int(text[2:]) if text.startswith("i=") else None


FIXED_SIZES = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 4, 8: 8, 9: 8, 10: 4, 11: 8, 13: 8, 14: 16,
               19: 4}                      # built-in type id → encoded size


def skip_localized_text(reader: Reader) -> None:
    mask = reader.u8()
    if mask & 0x01:
        reader.string()
    if mask & 0x02:
        reader.string()


def skip_extension_object(reader: Reader) -> None:
    reader.node_id()
    if reader.u8() & 0x03:
        reader.bytestring()


def skip_diagnostic_info(reader: Reader, depth: int = 0) -> None:
    if depth > MAX_NESTING:
        raise Truncated
    mask = reader.u8()
    reader.take(4 * bin(mask & 0x0F).count("1"))
    if mask & 0x10:
        reader.string()
    if mask & 0x20:
        reader.u32()
    if mask & 0x40:
        skip_diagnostic_info(reader, depth + 1)


def skip_builtin(reader: Reader, type_id: int, depth: int) -> None:
    if type_id in FIXED_SIZES:
        reader.take(FIXED_SIZES[type_id])
    elif type_id in (12, 15, 16):
        reader.bytestring()
    elif type_id == 17:
        reader.node_id()
    elif type_id == 18:
        reader.expanded_node_id()
    elif type_id == 20:
        reader.u16()
        reader.string()
    elif type_id == 21:
        skip_localized_text(reader)
    elif type_id == 22:
        skip_extension_object(reader)
    elif type_id == 23:
        skip_data_value(reader, depth + 1)
    elif type_id == 24:
        skip_variant(reader, depth + 1)
    elif type_id == 25:
        skip_diagnostic_info(reader, depth + 1)
    else:
        raise Truncated


def skip_variant(reader: Reader, depth: int = 0) -> None:
    if depth > MAX_NESTING:
        raise Truncated
    mask = reader.u8()
    type_id = mask & 0x3F
    if type_id == 0:
        return
    count = reader.array_length() if mask & 0x80 else 1
    for _ in range(count):
        skip_builtin(reader, type_id, depth)
    if mask & 0x40:
        reader.take(4 * reader.array_length())


def skip_data_value(reader: Reader, depth: int = 0) -> None:
    mask = reader.u8()
    if mask & 0x01:
        skip_variant(reader, depth)
    reader.take(4 * bool(mask & 0x02) + 8 * bool(mask & 0x04) + 8 * bool(mask & 0x08)
                + 2 * bool(mask & 0x10) + 2 * bool(mask & 0x20))


# --- services -----------------------------------------------------------------------------------

def read_request_header(reader: Reader, fields: dict[str, Any]) -> None:
    reader.node_id()                           # the session's authentication token
    reader.take(8)                             # timestamp
    fields["request_handle"] = reader.u32()
    reader.u32()                               # return diagnostics
    reader.string()                            # audit entry id
    reader.u32()                               # timeout hint
    skip_extension_object(reader)


def read_response_header(reader: Reader, fields: dict[str, Any]) -> None:
    reader.take(8)                             # timestamp
    fields["request_handle"] = reader.u32()
    fields["status_code"] = code = reader.u32()
    fields["status_name"] = status_name(code)
    skip_diagnostic_info(reader)
    for _ in range(reader.array_length()):     # string table
        reader.string()
    skip_extension_object(reader)


def read_node_list(reader: Reader, read_one: Any) -> list[str]:
    """Node ids of an array of structures; ``read_one`` reads one and returns its node id."""
    node_ids = [read_one(reader) for _ in range(reader.array_length())]
    return node_ids[:MAX_NODE_IDS]


def read_value_id(reader: Reader) -> str:
    node = reader.node_id()
    reader.u32()                               # attribute id
    reader.string()                            # index range
    reader.u16()                               # data encoding: a qualified name
    reader.string()
    return node


def write_value(reader: Reader) -> str:
    node = reader.node_id()
    reader.u32()                               # attribute id
    reader.string()                            # index range
    skip_data_value(reader)
    return node


def browse_description(reader: Reader) -> str:
    node = reader.node_id()
    reader.u32()                               # direction
    reader.node_id()                           # reference type
    reader.take(9)                             # include subtypes, node class and result masks
    return node


def decode_read(reader: Reader, fields: dict[str, Any]) -> None:
    reader.take(12)                            # max age, timestamps to return
    fields["node_ids"] = read_node_list(reader, read_value_id)


def decode_write(reader: Reader, fields: dict[str, Any]) -> None:
    fields["node_ids"] = read_node_list(reader, write_value)


def decode_browse(reader: Reader, fields: dict[str, Any]) -> None:
    reader.node_id()                           # view id, timestamp, version
    reader.take(12)
    reader.u32()                               # max references per node
    fields["node_ids"] = read_node_list(reader, browse_description)


def decode_call(reader: Reader, fields: dict[str, Any]) -> None:
    objects, methods = [], []
    for _ in range(reader.array_length()):
        objects.append(reader.node_id())
        methods.append(reader.node_id())
        for _ in range(reader.array_length()):
            skip_variant(reader)
    fields["node_ids"] = objects[:MAX_NODE_IDS]
    fields["method_ids"] = methods[:MAX_NODE_IDS]


def decode_create_session(reader: Reader, fields: dict[str, Any]) -> None:
    reader.string()                            # client description: application uri,
    reader.string()                            # product uri,
    skip_localized_text(reader)                # application name,
    reader.u32()                               # application type,
    reader.string()                            # gateway server uri,
    reader.string()                            # discovery profile uri,
    for _ in range(reader.array_length()):     # discovery urls
        reader.string()
    reader.string()                            # server uri
    _set(fields, "endpoint_url", reader.string())
    _set(fields, "session_name", reader.string())


def decode_activate_session(reader: Reader, fields: dict[str, Any]) -> None:
    reader.string()                            # client signature: algorithm, signature
    reader.bytestring()
    for _ in range(reader.array_length()):     # software certificates
        reader.bytestring()
        reader.bytestring()
    for _ in range(reader.array_length()):     # locale ids
        reader.string()
    token_type = numeric_id(reader.node_id())
    if reader.u8() & 0x01 and token_type in IDENTITY_TOKENS:
        fields["identity_token"] = IDENTITY_TOKENS[token_type]
        body = Reader(reader.bytestring() or b"")
        body.string()                          # policy id
        if token_type == 324:                  # the user name; the password is never read
            _set(fields, "user_name", body.string())


def decode_get_endpoints(reader: Reader, fields: dict[str, Any]) -> None:
    _set(fields, "endpoint_url", reader.string())


def decode_open_channel_request(reader: Reader, fields: dict[str, Any]) -> None:
    reader.u32()                               # client protocol version
    request_type = reader.u32()
    fields["token_request_type"] = TOKEN_REQUEST_TYPES.get(request_type,
                                                           f"unknown-{request_type}")
    fields["security_mode"] = mode = reader.u32()
    fields["security_mode_name"] = SECURITY_MODES.get(mode, f"unknown-{mode}")


def decode_open_channel_response(reader: Reader, fields: dict[str, Any]) -> None:
    reader.u32()                               # server protocol version
    reader.u32()                               # the channel id, as in the chunk header
    fields["token_id"] = reader.u32()


REQUEST_DECODERS = {
    428: decode_get_endpoints, 446: decode_open_channel_request, 461: decode_create_session,
    467: decode_activate_session, 527: decode_browse, 631: decode_read, 673: decode_write,
    712: decode_call,
}
RESPONSE_DECODERS = {449: decode_open_channel_response}


def decode_service(reader: Reader, known_only: bool) -> dict[str, Any]:
    """The service a message body carries, as far as it decodes.

    ``known_only`` is for bodies that may be encrypted (the channel's handshake was not seen, or
    its policy signs and perhaps encrypts): it keeps nothing unless the body starts with a known
    service type and a whole request or response header, which ciphertext does not.
    """
    fields: dict[str, Any] = {}
    try:
        service = numeric_id(reader.expanded_node_id())
        if service is None or (known_only and service not in SERVICES):
            return {}
        fields["service"] = service
        fields["service_name"] = SERVICES.get(service, f"unknown-{service}")
        _decode_service_body(reader, service, fields)
    except (Truncated, struct.error):
        if known_only and "request_handle" not in fields:
            return {}
    return fields


def _decode_service_body(reader: Reader, service: int, fields: dict[str, Any]) -> None:
    name = fields["service_name"]
    if name.endswith("Request"):
        read_request_header(reader, fields)
        decoder = REQUEST_DECODERS.get(service)
    elif name.endswith("Response") or service == 397:
        read_response_header(reader, fields)
        decoder = RESPONSE_DECODERS.get(service)
    else:
        return
    if decoder is not None:
        decoder(reader, fields)


def _set(fields: dict[str, Any], name: str, value: str | None) -> None:
    if value:
        fields[name] = value


# --- chunks to events ---------------------------------------------------------------------------

def decode_hello(reader: Reader, fields: dict[str, Any]) -> None:
    for name in ("protocol_version", "receive_buffer_size", "send_buffer_size",
                 "max_message_size", "max_chunk_count"):
        fields[name] = reader.u32()
    if reader.pos < len(reader.data):          # HEL only; ACK stops here
        _set(fields, "endpoint_url", reader.string())


def decode_error(reader: Reader, fields: dict[str, Any]) -> None:
    fields["status_code"] = code = reader.u32()
    fields["status_name"] = status_name(code)
    _set(fields, "reason", reader.string())


def decode_reverse_hello(reader: Reader, fields: dict[str, Any]) -> None:
    _set(fields, "server_uri", reader.string())
    _set(fields, "endpoint_url", reader.string())


def decode_open(chunk: Chunk, state: OpcuaState, fields: dict[str, Any]) -> None:
    reader = Reader(chunk.body)
    fields["secure_channel_id"] = reader.u32()
    uri = (reader.bytestring() or b"").decode("utf-8", "replace")
    fields["security_policy_uri"], fields["security_policy"] = uri, policy_name(uri)
    state.policy_uri = uri
    if uri != POLICY_NONE:
        fields["encrypted"] = True
        return
    fields["insecure"] = True
    reader.bytestring()                        # sender certificate
    reader.bytestring()                        # receiver certificate thumbprint
    _read_sequence_header(reader, fields)
    fields |= decode_service(reader, known_only=False)
    if "security_mode" in fields:
        state.security_mode = fields["security_mode"]


def decode_symmetric(chunk: Chunk, state: OpcuaState, fields: dict[str, Any]) -> None:
    reader = Reader(chunk.body)
    fields["secure_channel_id"] = reader.u32()
    fields["token_id"] = reader.u32()
    clear = state.policy_uri == POLICY_NONE
    if state.policy_uri is not None:
        fields["security_policy"] = policy_name(state.policy_uri)
        fields["insecure"] = clear
    sequence: dict[str, Any] = {}
    _read_sequence_header(reader, sequence)
    if chunk.chunk_type == "A" and clear:
        decode_error(reader, sequence)
    elif not state.continues(chunk.chunk_type, sequence["request_id"]):
        sequence |= decode_service(reader, known_only=not clear)
    if clear or "service" in sequence:
        fields |= sequence
    if state.policy_uri is not None and not clear:
        fields["encrypted"] = "service" not in sequence


def _read_sequence_header(reader: Reader, fields: dict[str, Any]) -> None:
    fields["sequence_number"] = reader.u32()
    fields["request_id"] = reader.u32()


BODY_DECODERS = {"HEL": decode_hello, "ACK": decode_hello, "ERR": decode_error,
                 "RHE": decode_reverse_hello}


def chunk_fields(chunk: Chunk, state: OpcuaState) -> dict[str, Any]:
    fields: dict[str, Any] = {"message_type": chunk.message_type,
                              "chunk_type": chunk.chunk_type, "size": chunk.size}
    try:
        if chunk.message_type in BODY_DECODERS:
            BODY_DECODERS[chunk.message_type](Reader(chunk.body), fields)
        elif chunk.message_type == "OPN":
            decode_open(chunk, state, fields)
        else:
            decode_symmetric(chunk, state, fields)
    except (Truncated, struct.error):
        pass                                   # the header fields still stand
    return fields


def to_event(pdu: Chunk | Skipped, state: OpcuaState | None) -> dict[str, Any]:
    if isinstance(pdu, Skipped):
        return {"event": {"dataset": "weird"}, "network": {"protocol": "opcua"},
                "weird": {"name": Anomaly.RESYNC.value, "analyzer": "opcua",
                          "detail": f"skipped {pdu.length} bytes"}}
    fields = chunk_fields(pdu, state if state is not None else OpcuaState())
    return {"network": {"protocol": "opcua"}, "opcua": fields}


ANALYZER = AnalyzerSpec(
    name="opcua", transport="tcp", ports=(4840, 48010, 12001), probe=probe, parse=parse_pdu,
    to_event=to_event, max_pdu=MAX_CHUNK, new_state=OpcuaState,
)
