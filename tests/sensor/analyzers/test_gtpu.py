"""GTPv1-U signalling messages from annotated bytes, including malformed and cut ones."""

from __future__ import annotations

import pytest

from sensor.analyzers import gtpu
from sensor.analyzers.base import Malformed, Parsed
from tests.utils.events import at, make_event

CASES = [
    # flags type len  TEID     seq  npdu next
    ("32    01   0004 00000000 1234 00   00", {
        "message_type": 1, "message_name": "echo_request", "length": 4, "teid": 0,
        "sequence": 0x1234, "flags": 0x32}),
    # echo response | recovery (14) = 7
    ("32    02   0006 00000000 1234 00   00     0e 07", {
        "message_type": 2, "message_name": "echo_response", "recovery": 7, "ie_types": [14]}),
    # error indication | TEID data I (16) | GTP-U peer address (133, len 4) 192.0.2.1
    ("32    1a   0010 00000000 0002 00   00     10 0badcafe  85 0004 c0000201", {
        "message_name": "error_indication", "teid_data": 0x0BADCAFE,
        "peer_address": "192.0.2.1", "ie_types": [16, 133]}),
    # error indication with an IPv6 peer address (len 16)
    ("32    1a   001c 00000000 0002 00   00     10 00000001  85 0010 20010db8 00000000"
     "                                                               00000000 00000001",
     {"teid_data": 1, "peer_address": "2001:db8::1"}),
    # end marker: no optional fields at all
    ("30    fe   0000 1234abcd", {
        "message_type": 254, "message_name": "end_marker", "teid": 0x1234ABCD, "length": 0}),
    # end marker, E flag: PDU session container (0x85: len 1, DL, QFI 9, next 0)
    ("34    fe   0008 1234abcd 0000 00   85     01 00 09 00", {
        "extension_headers": [0x85], "extension_header_names": ["pdu_session_container"],
        "qfi": 9}),
    # error indication behind a UDP port extension header (0x40: len 1, port 2152, next 0)
    ("36    1a   0014 00000000 0003 00   40     01 0868 00  10 0badcafe  85 0004 0a000001", {
        "sequence": 3, "extension_headers": [0x40], "extension_header_names": ["udp_port"],
        "teid_data": 0x0BADCAFE}),
    # supported extension headers notification: IE 141 has a one-octet length: 0x40, 0x85
    ("32    1f   0008 00000000 0004 00   00     8d 02 40 85", {
        "message_name": "supported_extension_headers_notification",
        "supported_extension_headers": [0x40, 0x85]}),
    # PN flag only: N-PDU number 0x2a, no sequence number
    ("31    01   0004 00000000 0000 2a   00", {"npdu_number": 42}),
    # G-PDU whose payload is not IP (reaches the analyzer only then)
    ("30    ff   0004 00000001 deadbeef", {
        "message_type": 255, "message_name": "g_pdu", "anomalies": ["payload_not_ip"]}),
    # G-PDU carrying the first fragment of an IPv4 packet (MF set): the batch decoder leaves it
    ("30    ff   0014 00000001 4500 0590 df71 2000 7706 0000 08080404 0a2d0002", {
        "anomalies": ["payload_ip_fragment"]}),
    # G-PDU carrying an IPv4 packet the batch decoder could not decode (header cut short)
    ("30    ff   0004 00000001 45000590", {"anomalies": ["payload_undecoded"]}),
    # an unknown TV element (type 99) stops the walk, the header still counts
    ("32    1a   000b 00000000 0002 00   00     10 00000005  63 00", {
        "teid_data": 5, "anomalies": ["unknown_tv_ie"]}),
]


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_messages_decode_to_their_fields(hexdump: str, expected: dict) -> None:
    raw = bytes.fromhex(hexdump)
    result = gtpu.parse_pdu(raw, True)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    fields = gtpu.to_event(result.pdu, None)
    assert fields["gtp"] | expected == fields["gtp"]
    assert "sequence" in fields["gtp"] or not int(hexdump[:2], 16) & 0x02
    make_event("gtpu", at(0), **fields)     # raises unless the event is schema-valid


@pytest.mark.parametrize(("hexdump", "reason"), [
    ("32 01 0004 0000", "gtpu_truncated"),                        # fixed header cut short
    ("32 01 0004 00000000 12", "gtpu_truncated"),                 # optional fields cut short
    ("52 01 0004 00000000 1234 00 00", "gtpu_not_gtpv1"),         # version 2
    ("22 01 0004 00000000 1234 00 00", "gtpu_not_gtpv1"),         # protocol type 0: GTP'
    ("32 01 0002 00000000 1234 00 00", "gtpu_bad_length"),        # optional fields beyond length
    # E flag, next type 0x85, but the extension header's length octet is 0
    ("34 fe 0008 00000000 0000 00 85 00 00 09 00", "gtpu_bad_extension_header"),
    # extension header longer than the message
    ("34 fe 0008 00000000 0000 00 85 02 00 09 00", "gtpu_bad_extension_header"),
])
def test_malformed_headers(hexdump: str, reason: str) -> None:
    assert gtpu.parse_pdu(bytes.fromhex(hexdump), True) == Malformed(reason)


def test_a_body_cut_short_is_decoded_as_far_as_it_goes() -> None:
    # error indication whose peer address element is cut after its length
    raw = bytes.fromhex("32 1a 0010 00000000 0002 00 00 10 0badcafe 85 0004 c0")
    result = gtpu.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    fields = gtpu.to_event(result.pdu, None)["gtp"]
    assert fields["teid_data"] == 0x0BADCAFE and "peer_address" not in fields
    assert fields["anomalies"] == ["truncated_ie", "truncated"]


def test_bytes_after_the_message_are_consumed_and_flagged() -> None:
    # a GTPv1-U datagram holds one message; what follows it is not another one
    raw = bytes.fromhex("32 01 0004 00000000 0001 00 00" "32 01 0004 00000000 0002 00 00")
    result = gtpu.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    fields = gtpu.to_event(result.pdu, None)["gtp"]
    assert fields["sequence"] == 1 and fields["anomalies"] == ["trailing_bytes"]


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("32 01 0004 00000000 0001 00 00", True),        # echo request
    ("30 ff 0004 00000001 45000000", True),          # G-PDU
    ("32 10 0004 00000000 0001 00 00", False),       # create PDP context request: GTP-C
    ("48 20 0008 00000000 000001 00", False),        # GTPv2-C
    ("32 01 00", None),                              # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert gtpu.probe(bytes.fromhex(hexdump)) is verdict
