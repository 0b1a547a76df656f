"""OPC UA binary chunks from annotated bytes, including garbage and split chunks."""

from __future__ import annotations

import struct

import pytest

from liaowang.schema import validate
from sensor.analyzers import opcua
from sensor.analyzers.base import Malformed, NeedMore, Parsed

NONE_URI = b"http://opcfoundation.org/UA/SecurityPolicy#None"


def ua_string(text: bytes) -> str:
    return struct.pack("<i", len(text)).hex() + text.hex()


HEL = ("48454c 46 2a000000"          # "HEL", final chunk, size 42
       "00000000"                    # protocol version 0
       "00000100 00000100"           # receive / send buffer 65536
       "00000001 00000000"           # max message 16 MiB, max chunk count 0
       + ua_string(b"opc.tcp://"))   # endpoint url
ACK = "41434b 46 1c000000 00000000 00000100 00000100 00000000 00000000"
ERR = ("455252 46 17000000"          # "ERR", size 23
       "00007f80"                    # 0x807F0000 BadTcpSecureChannelUnknown
       + ua_string(b"no such"))      # reason

# an OpenSecureChannel request under policy None asking for security mode None
OPN_BODY = ("00000000"               # secure channel id 0 (a new channel)
            + ua_string(NONE_URI) +  # security policy uri
            "ffffffff ffffffff"      # no sender certificate, no receiver thumbprint
            "01000000 01000000"      # sequence number 1, request id 1
            "01 00 be01"             # type id: four-byte node id i=446
            "00 00"                  # request header: authentication token i=0
            "0000000000000000"       # timestamp
            "07000000 00000000"      # request handle 7, return diagnostics
            "ffffffff e8030000"      # audit entry id (null), timeout hint
            "00 00 00"               # additional header: null extension object
            "00000000 00000000"      # client protocol version, request type issue
            "01000000"               # security mode None
            "ffffffff 80ee3600")     # client nonce (null), requested lifetime


def chunk(message_type: bytes, body_hex: str, chunk_type: bytes = b"F") -> bytes:
    body = bytes.fromhex(body_hex)
    return message_type + chunk_type + struct.pack("<I", 8 + len(body)) + body


def symmetric(body_hex: str, chunk_type: bytes = b"F", request_id: int = 2) -> bytes:
    header = "05000000 01000000" + struct.pack("<II", request_id, request_id).hex()
    return chunk(b"MSG", header + body_hex, chunk_type)  # channel 5, token 1, sequence


REQUEST_HEADER = "00 00 0000000000000000 2a000000 00000000 ffffffff 00000000 00 00 00"
READ = ("01 00 7702" + REQUEST_HEADER +  # type id i=631 ReadRequest; request handle 42
        "0000000000000000 02000000"      # max age, timestamps to return
        "02000000"                       # two nodes to read:
        "03 0200" + ua_string(b"Tag1") +  # ns=2;s=Tag1
        "0d000000 ffffffff 0000 ffffffff"  # attribute Value, index range, data encoding
        "01 03 e803"                     # ns=3;i=1000 (four-byte node id)
        "0d000000 ffffffff 0000 ffffffff")
WRITE = ("01 00 a102" + REQUEST_HEADER +  # type id i=673 WriteRequest
         "01000000"                      # one node to write:
         "02 0400 39300000"              # ns=4;i=12345 (numeric node id)
         "0d000000 ffffffff"             # attribute Value, index range
         "01 06 2a000000")               # data value: variant Int32 42
READ_RESPONSE = ("01 00 7a02"            # type id i=634 ReadResponse
                 "0000000000000000 2a000000"  # timestamp, request handle 42
                 "00003480"              # service result BadNodeIdUnknown
                 "00 ffffffff 00 00 00"  # no diagnostics, string table, additional header
                 "00000000 00000000")    # no results, no diagnostic infos
ACTIVATE = ("01 00 d301" + REQUEST_HEADER +   # type id i=467 ActivateSessionRequest
            "ffffffff ffffffff"          # client signature: algorithm, signature (null)
            "00000000 00000000"          # no software certificates, no locale ids
            "01 00 4401 01"              # identity token i=324 UserName, binary body
            "18000000"                   # body length 24:
            + ua_string(b"u") + ua_string(b"alice")  # policy id, user name,
            + ua_string(b"pw") + "ffffffff")  # password (never reported), algorithm


def event_of(raw: bytes, state: opcua.OpcuaState, to_server: bool = True) -> dict:
    result = opcua.parse_pdu(raw, to_server)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    event = opcua.to_event(result.pdu, state)
    full = {"@timestamp": "2024-01-01T00:00:00.000000Z", "observer": {"name": "t"},
            "event": {"id": "x", "kind": "event", "dataset": "opcua"}} | event
    assert validate(full) == []
    return event["opcua"]


def opened_channel() -> opcua.OpcuaState:
    state = opcua.OpcuaState()
    event_of(chunk(b"OPN", OPN_BODY), state)
    return state


@pytest.mark.parametrize(("hexdump", "expected"), [
    (HEL, {"message_type": "HEL", "chunk_type": "F", "size": 42, "protocol_version": 0,
           "receive_buffer_size": 65536, "max_message_size": 1 << 24,
           "endpoint_url": "opc.tcp://"}),
    (ACK, {"message_type": "ACK", "send_buffer_size": 65536, "max_chunk_count": 0}),
    (ERR, {"message_type": "ERR", "status_code": 0x807F0000,
           "status_name": "BadTcpSecureChannelUnknown", "reason": "no such"}),
])
def test_connection_chunks(hexdump: str, expected: dict) -> None:
    fields = event_of(bytes.fromhex(hexdump), opcua.OpcuaState())
    assert fields | expected == fields
    assert "endpoint_url" not in fields or hexdump == HEL


def test_open_secure_channel_with_policy_none_is_decoded_and_flagged() -> None:
    state = opcua.OpcuaState()
    fields = event_of(chunk(b"OPN", OPN_BODY), state)
    assert fields | {"secure_channel_id": 0, "security_policy": "None", "insecure": True,
                     "sequence_number": 1, "request_id": 1, "service": 446,
                     "service_name": "OpenSecureChannelRequest", "request_handle": 7,
                     "security_mode": 1, "security_mode_name": "None",
                     "token_request_type": "issue"} == fields
    assert state.policy_uri == NONE_URI.decode() and state.security_mode == 1


def test_open_secure_channel_with_a_real_policy_is_encrypted() -> None:
    uri = b"http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    body = "00000000" + ua_string(uri) + "ffffffff ffffffff" + "5a" * 64  # ciphertext
    state = opcua.OpcuaState()
    fields = event_of(chunk(b"OPN", body), state)
    assert fields["security_policy"] == "Basic256Sha256" and fields["encrypted"] is True
    assert "service" not in fields and "insecure" not in fields
    later = event_of(symmetric("5a" * 48), state)
    assert later["encrypted"] is True and "service" not in later


@pytest.mark.parametrize(("body", "expected"), [
    (READ, {"service": 631, "service_name": "ReadRequest", "request_handle": 42,
            "node_ids": ["ns=2;s=Tag1", "ns=3;i=1000"]}),
    (WRITE, {"service": 673, "service_name": "WriteRequest", "node_ids": ["ns=4;i=12345"]}),
    (READ_RESPONSE, {"service": 634, "request_handle": 42, "status_code": 0x80340000,
                     "status_name": "BadNodeIdUnknown"}),
    (ACTIVATE, {"service": 467, "identity_token": "username", "user_name": "alice"}),
])
def test_services_on_an_insecure_channel(body: str, expected: dict) -> None:
    fields = event_of(symmetric(body), opened_channel())
    assert fields | expected == fields
    assert fields["secure_channel_id"] == 5 and fields["insecure"] is True
    assert "pw" not in repr(fields)


def test_without_the_handshake_only_known_services_are_decoded() -> None:
    state = opcua.OpcuaState()
    assert event_of(symmetric(READ), state)["service"] == 631
    garbled = event_of(symmetric("ab" * 40), state)
    assert "service" not in garbled and "request_id" not in garbled
    assert "encrypted" not in garbled      # unknown, not claimed either way


def test_only_the_first_chunk_of_a_message_carries_the_service() -> None:
    state = opened_channel()
    first = event_of(symmetric(READ[:60], b"C", request_id=9), state)
    last = event_of(symmetric(READ[60:], b"F", request_id=9), state)
    assert first["service"] == 631 and first["chunk_type"] == "C"
    assert "service" not in last and last["request_id"] == 9


def test_two_chunks_in_one_buffer_and_a_split_chunk() -> None:
    raw = bytes.fromhex(HEL) + bytes.fromhex(ACK)
    first = opcua.parse_pdu(raw, True)
    assert isinstance(first, Parsed) and first.consumed == 42
    second = opcua.parse_pdu(raw[42:], False)
    assert isinstance(second, Parsed) and second.pdu.message_type == "ACK"
    assert opcua.parse_pdu(raw[:20], True) == NeedMore(42)
    assert opcua.parse_pdu(raw[:5], True) == NeedMore(8)


def test_garbage_is_skipped_to_the_next_chunk_with_one_weird() -> None:
    raw = bytes.fromhex("00112233 4d534758") + bytes.fromhex(ACK)   # "MSGX" is no header
    result = opcua.parse_pdu(raw, False)
    assert result == Parsed(opcua.Skipped(8), 8)
    weird = opcua.to_event(result.pdu, opcua.OpcuaState())
    assert weird["event"]["dataset"] == "weird"
    assert weird["weird"] == {"name": "opcua_resync", "analyzer": "opcua",
                              "detail": "skipped 8 bytes"}


@pytest.mark.parametrize(("raw", "outcome"), [
    (b"\x00" * 100, NeedMore(101)),                        # no header yet: read on
    (b"\x00" * opcua.SCAN_LIMIT, Malformed(opcua.Anomaly.NO_CHUNK_HEADER)),
    # "HEL" with size 8 is too small to be a Hello; with chunk type C it is not one either
    (bytes.fromhex("48454c46 08000000") + b"\x00" * 8, NeedMore(17)),
    (bytes.fromhex("48454c43 2a000000") + b"\x00" * 8, NeedMore(17)),
])
def test_garbage_without_a_header(raw: bytes, outcome: object) -> None:
    assert opcua.parse_pdu(raw, True) == outcome


def test_a_truncated_body_keeps_the_header_fields() -> None:
    raw = chunk(b"OPN", OPN_BODY[:60])   # the policy uri is cut short
    fields = event_of(raw, opcua.OpcuaState())
    assert fields["message_type"] == "OPN" and fields["secure_channel_id"] == 0
    assert "service" not in fields


@pytest.mark.parametrize(("hexdump", "verdict"), [
    (HEL, True),
    ("0000" + ACK, True),                  # joined mid-stream: a header further on
    ("1603 0100 2e01 0000", None),         # no header yet, keep looking
    ("4845", None),                        # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert opcua.probe(bytes.fromhex(hexdump)) is verdict


def test_probe_gives_up_after_a_long_run_without_headers() -> None:
    assert opcua.probe(b"\x17" * opcua.SCAN_LIMIT) is False


def test_service_and_identity_tables_match_asyncua() -> None:
    from asyncua.ua import ObjectIds

    for code, name in opcua.SERVICES.items():
        assert getattr(ObjectIds, f"{name}_Encoding_DefaultBinary") == code
    for code, kind in {321: "Anonymous", 324: "UserName", 327: "X509", 940: "Issued"}.items():
        assert getattr(ObjectIds, f"{kind}IdentityToken_Encoding_DefaultBinary") == code


def test_status_names_match_asyncua() -> None:
    from asyncua.ua.status_codes import code_to_name_doc

    for code, name in opcua.STATUS_NAMES.items():
        assert code_to_name_doc[code][0] == name
