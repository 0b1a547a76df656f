"""HTTP/2 SBI frames and messages from annotated bytes, including malformed ones.

HPACK blocks are written with literal (not Huffman) strings so the bytes can be read: ``lit(s)``
is a one-byte length and the ASCII text. Static table indexes (RFC 7541 appendix A):
0x82 ``:method GET``, 0x83 ``:method POST``, 0x86 ``:scheme http``, 0x88 ``:status 200``;
``0x40 | n`` is a literal with the name of index n (1 ``:authority``, 4 ``:path``,
8 ``:status``, 31 ``content-type``, 58 ``user-agent``), 0x42 with ``:method``.
"""

from __future__ import annotations

import json

import pytest

from sensor.analyzers import sbi
from sensor.analyzers.base import Malformed, NeedMore, Parsed


def lit(text: str) -> str:
    raw = text.encode()
    return f"{len(raw):02x}" + raw.hex()


def frame(header: str, payload: str) -> bytes:
    """``header`` is type, flags and stream id; the length is counted here."""
    body = bytes.fromhex(payload)
    return len(body).to_bytes(3, "big") + bytes.fromhex(header) + body


def events_of(*frames: tuple[bytes, bool], state: sbi.SbiState | None = None) -> list[dict]:
    state = state or sbi.new_state()
    out: list[dict] = []
    for raw, to_server in frames:
        result = sbi.parse_pdu(raw, to_server)
        assert isinstance(result, Parsed) and result.consumed == len(raw), result
        out += sbi.to_event(result.pdu, state)
    return out


SDM_GET = frame(
    "01 05 00000003",                                       # HEADERS, END_STREAM|END_HEADERS
    "82 86"                                                 # :method GET, :scheme http
    "44" + lit("/nudm-sdm/v2/imsi-001010000000001/am-data?plmn-id=00101")   # :path
    + "41" + lit("udm.5gc.mnc001.mcc001.3gppnetwork.org:7777")              # :authority
    + "7a" + lit("AMF-7b1c"))                               # user-agent
SDM_200 = frame("01 05 00000003", "88")                     # :status 200, ends the stream
NRF_PUT = frame(
    "01 04 00000001",                                       # HEADERS, END_HEADERS only
    "42" + lit("PUT") + "86"                                # :method PUT, :scheme http
    "44" + lit("/nnrf-nfm/v1/nf-instances/6a4e5f0c-1111-41ee-8000-0242ac110002")
    + "5f" + lit("application/json"))                       # content-type
PROFILE = {"nfInstanceId": "6a4e5f0c-1111-41ee-8000-0242ac110002", "nfType": "AMF",
           "nfStatus": "REGISTERED"}
NRF_BODY = frame("00 01 00000001", json.dumps(PROFILE).encode().hex())   # DATA, END_STREAM
NOT_FOUND = frame("01 04 00000001",                         # HEADERS, END_HEADERS
                  "48" + lit("404")                         # :status 404
                  + "5f" + lit("application/problem+json"))
PROBLEM = frame("00 01 00000001",                           # DATA, END_STREAM
                json.dumps({"title": "Not Found", "status": 404,
                            "cause": "CONTEXT_NOT_FOUND"}).encode().hex())


def test_a_request_and_its_response() -> None:
    request, response = events_of((SDM_GET, True), (SDM_200, False))
    assert request["http"] == {"version": "2", "request": {"method": "GET", "body": {"bytes": 0}}}
    assert request["url"] == {"path": "/nudm-sdm/v2/imsi-001010000000001/am-data",
                              "query": "plmn-id=00101", "scheme": "http", "port": 7777,
                              "domain": "udm.5gc.mnc001.mcc001.3gppnetwork.org"}
    assert request["sbi"] == {
        "stream_id": 3, "is_response": False, "service": "nudm-sdm", "api_version": "v2",
        "resource": "imsi-001010000000001/am-data", "producer_nf_type": "UDM",
        "supi": "imsi-001010000000001", "requester_nf_type": "AMF"}
    assert request["user_agent"] == {"original": "AMF-7b1c"}
    assert response["http"]["response"] == {"status_code": 200, "body": {"bytes": 0}}
    assert response["http"]["request"] == {"method": "GET"}
    assert response["sbi"]["is_response"] is True
    assert response["sbi"]["supi"] == "imsi-001010000000001"


def test_nrf_registration_reads_the_nf_profile_from_the_body() -> None:
    (request,) = events_of((NRF_PUT, True), (NRF_BODY, True))
    assert request["http"]["request"]["method"] == "PUT"
    assert request["http"]["request"]["mime_type"] == "application/json"
    assert request["sbi"] | {"nf_type": "AMF", "nf_status": "REGISTERED",
                             "nf_instance_id": PROFILE["nfInstanceId"],
                             "resource": "nf-instances/" + PROFILE["nfInstanceId"]} \
        == request["sbi"]


def test_an_error_response_carries_the_problem_cause() -> None:
    events = events_of((NRF_PUT, True), (NOT_FOUND, False), (PROBLEM, False))
    request, response = events          # the response's headers end the request
    assert request["sbi"]["is_response"] is False
    assert response["http"]["response"]["status_code"] == 404
    assert response["sbi"]["cause"] == "CONTEXT_NOT_FOUND"
    assert response["sbi"]["problem_title"] == "Not Found"


def test_a_header_block_continues_in_continuation_frames() -> None:
    block = "82 86 44" + lit("/nnrf-disc/v1/nf-instances?target-nf-type=AUSF"
                             "&requester-nf-type=AMF")
    cut = 8
    first = frame("01 01 00000005", block[:cut])            # HEADERS, END_STREAM, no END_HEADERS
    rest = frame("09 04 00000005", block[cut:])             # CONTINUATION, END_HEADERS
    state = sbi.new_state()
    assert events_of((first, True), state=state) == []
    (request,) = events_of((rest, True), state=state)
    assert request["sbi"]["target_nf_type"] == "AUSF"
    assert request["sbi"]["requester_nf_type"] == "AMF"
    assert request["sbi"]["service"] == "nnrf-disc"


def test_padded_headers_with_priority() -> None:
    raw = frame("01 2d 00000001",                           # HEADERS, PRIORITY|PADDED|END_*
                "02"                                        # pad length 2
                "80000003 10"                               # exclusive dependency 3, weight 16
                "82 86 44" + lit("/x") + "0000")            # GET http /x, padding
    (request,) = events_of((raw, True))
    assert request["url"]["path"] == "/x"
    assert "service" not in request["sbi"]


@pytest.mark.parametrize(("raw", "expected"), [
    # RST_STREAM stream 1, error 8
    (frame("03 00 00000001", "00000008"),
     {"stream_id": 1, "frame_type": "rst_stream", "error_code": 8, "error_name": "cancel"}),
    # GOAWAY stream 0: last stream 7, error 11
    (frame("07 00 00000000", "00000007 0000000b"),
     {"stream_id": 0, "frame_type": "goaway", "last_stream_id": 7, "error_code": 11,
      "error_name": "enhance_your_calm"}),
    # GOAWAY with an error code beyond the registry keeps its number
    (frame("07 00 00000000", "00000000 000000ff"),
     {"stream_id": 0, "frame_type": "goaway", "last_stream_id": 0, "error_code": 255,
      "error_name": "unknown-255"}),
])
def test_frame_events(raw: bytes, expected: dict) -> None:
    (event,) = events_of((raw, False))
    assert event["sbi"] == expected


def test_reset_stream_reports_the_request_it_cancels() -> None:
    rst = frame("03 00 00000001", "00000008")
    request, reset = events_of((NRF_PUT, True), (rst, True))
    assert request["http"]["request"]["method"] == "PUT"
    assert reset["sbi"]["frame_type"] == "rst_stream"


@pytest.mark.parametrize("raw", [
    frame("04 00 00000000", "0003 00000064"),               # SETTINGS max streams 100
    frame("04 01 00000000", ""),                            # SETTINGS ack
    frame("06 00 00000000", "0102030405060708"),            # PING
    frame("08 00 00000000", "0000ffff"),                    # WINDOW_UPDATE
    frame("0a 00 00000000", "00"),                          # an unknown frame type
])
def test_frames_that_complete_no_message_make_no_event(raw: bytes) -> None:
    assert events_of((raw, True)) == []


def test_several_frames_in_one_buffer_are_taken_one_at_a_time() -> None:
    buf = sbi.PREFACE + frame("04 00 00000000", "") + SDM_GET
    first = sbi.parse_pdu(buf, True)
    assert first == Parsed(sbi.Preface(), 24)
    second = sbi.parse_pdu(buf[24:], True)
    assert isinstance(second, Parsed) and second.consumed == 9 and second.pdu.type == 4
    third = sbi.parse_pdu(buf[33:], True)
    assert isinstance(third, Parsed) and third.consumed == len(SDM_GET)


def test_a_frame_split_across_segments_asks_for_the_rest() -> None:
    assert sbi.parse_pdu(SDM_GET[:5], True) == NeedMore(9)
    assert sbi.parse_pdu(SDM_GET[:20], True) == NeedMore(len(SDM_GET))
    assert sbi.parse_pdu(sbi.PREFACE[:10], True) == NeedMore(24)


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("200000 00 00 00000001", Malformed(sbi.Anomaly.FRAME_TOO_LONG)),   # 2 MiB frame
    ("000002 00 08 00000001 05 00", Malformed(sbi.Anomaly.BAD_PADDING)),  # pad 5 > 1 byte
    ("000002 01 20 00000001 8286", Malformed(sbi.Anomaly.BAD_PADDING)),   # priority cut short
    ("474554202f20485454502f312e310d0a" "6e6f2d636f6c6f6e0d0a0d0a",         # "GET / HTTP/1.1",
     Malformed(sbi.Anomaly.BAD_HTTP1_HEAD)),                              # "no-colon"
    ("474554202f20485454502f312e310d0a" + "41" * 16_400,                   # head never ends
     Malformed(sbi.Anomaly.HTTP1_HEAD_TOO_LONG)),
])
def test_malformed_frames(hexdump: str, outcome: object) -> None:
    assert sbi.parse_pdu(bytes.fromhex(hexdump), True) == outcome


def test_an_hpack_error_is_reported_once_per_direction() -> None:
    bad = frame("01 05 00000001", "be")                     # dynamic index 62: table is empty
    state = sbi.new_state()
    (weird,) = events_of((bad, True), state=state)
    assert weird["event"] == {"dataset": "weird"}
    assert weird["weird"]["name"] == "sbi_hpack_error"
    assert events_of((frame("01 05 00000003", "be"), True), state=state) == []


UPGRADE = (b"GET /nudm-sdm/v2/imsi-001010000000001/nssai HTTP/1.1\r\nHost: udm\r\n"
           b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
           b"\r\n")
SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"


def test_an_h2c_upgrade_request_is_stream_1() -> None:
    state = sbi.new_state()
    (request,) = events_of((UPGRADE, True), state=state)
    assert request["http"]["version"] == "1.1"
    assert request["sbi"]["stream_id"] == 1 and request["sbi"]["service"] == "nudm-sdm"
    assert events_of((SWITCHING, False), state=state) == []
    (response,) = events_of((frame("01 05 00000001", "88"), False), state=state)
    assert response["http"]["request"]["method"] == "GET"
    assert response["sbi"]["supi"] == "imsi-001010000000001"


def test_open_streams_are_capped() -> None:
    state = sbi.new_state()
    for stream_id in range(1, 2 * sbi.MAX_STREAMS * 2, 2):
        events_of((frame(f"01 04 {stream_id:08x}", "82 86 44" + lit("/a")), True), state=state)
    assert len(state.streams) == sbi.MAX_STREAMS


@pytest.mark.parametrize(("payload", "verdict"), [
    (sbi.PREFACE, True),
    (sbi.PREFACE[:7], None),                                # too short to tell
    (frame("04 00 00000000", "0003 00000064"), True),       # mid-stream: a SETTINGS frame
    (frame("04 00 00000000", "0003 00000064")[:6], None),   # not one frame header yet
    (frame("04 00 00000001", ""), False),                   # SETTINGS on a stream
    (frame("01 04 00000000", "82"), False),                 # HEADERS on stream 0
    (bytes.fromhex("160301 00 2e 01 000000"), False),       # a TLS record
    (UPGRADE, True),
    (SWITCHING, True),
    (b"GET / HTTP/1.1\r\nHost: udm\r\n\r\n", False),        # plain HTTP/1.1
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: u", None),                   # head not complete yet
])
def test_probe(payload: bytes, verdict: bool | None) -> None:
    assert sbi.probe(payload) is verdict
