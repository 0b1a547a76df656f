"""GTPv1-C messages from annotated bytes, including malformed and cut ones."""

from __future__ import annotations

import pytest

from sensor.analyzers import gtpv1
from sensor.analyzers.base import Malformed, Parsed
from tests.utils.events import at, make_event

CREATE_REQUEST = (
    # flags type len  TEID     seq  npdu next
    "32    10   0055 00000000 0001 00   00"
    "02 21436587092143f5"            # IMSI 123456789012345 (TBCD, F filler)
    "0e 05"                          # recovery 5
    "0f fd"                          # selection mode 1 (low two bits)
    "10 00000011"                    # TEID data I
    "11 00000022"                    # TEID control plane
    "14 05"                          # NSAPI 5
    "80 0002 f1 21"                  # end user address: IETF, IPv4, no address yet
    "83 0009 08 696e7465726e6574"    # APN "internet"
    "85 0004 c0000201"               # GSN address (control) 192.0.2.1
    "85 0004 c0000202"               # GSN address (user) 192.0.2.2
    "86 0007 91 447700510431"        # MSISDN: international/E.164, 447700154013
    "97 0001 01"                     # RAT type UTRAN
    "9a 0008 5319610051043100"       # IMEI(SV) 3591160015401300
)
CREATE_RESPONSE = (
    "32    11   003a 00000011 0001 00   00"
    "01 80"                          # cause 128: request accepted
    "0e 07"                          # recovery 7
    "10 00000033"                    # TEID data I
    "11 00000044"                    # TEID control plane
    "7f 00000063"                    # charging id 99
    "80 0006 f1 21 0a000002"         # end user address IPv4 10.0.0.2
    "85 0004 c6336401"               # GSN address 198.51.100.1
    "85 0010 20010db8000000000000000000000001"  # GSN address 2001:db8::1
)
CASES = [
    (CREATE_REQUEST, {
        "message_type": 16, "message_name": "create_pdp_context_request", "teid": 0,
        "sequence": 1, "imsi": "123456789012345", "recovery": 5, "selection_mode": 1,
        "teid_data": 0x11, "teid_control": 0x22, "nsapi": 5, "pdp_type_organization": 1,
        "pdp_type_number": 0x21, "pdp_type_name": "ipv4", "apn": "internet",
        "gsn_addresses": ["192.0.2.1", "192.0.2.2"], "msisdn": "447700154013",
        "rat_type": 1, "rat_type_name": "utran", "imei": "3591160015401300",
        "ie_types": [2, 14, 15, 16, 17, 20, 128, 131, 133, 133, 134, 151, 154]}),
    (CREATE_RESPONSE, {
        "message_type": 17, "teid": 0x11, "cause": 128, "cause_name": "request_accepted",
        "charging_id": 99, "end_user_address": ["10.0.0.2"],
        "gsn_addresses": ["198.51.100.1", "2001:db8::1"]}),
    # echo request: no information element at all
    ("32 01 0004 00000000 0007 00 00", {"message_name": "echo_request", "sequence": 7}),
    # delete PDP context response rejected: cause 192 non-existent
    ("32 15 0006 00000099 0008 00 00  01 c0", {
        "message_name": "delete_pdp_context_response", "cause": 192,
        "cause_name": "non_existent"}),
    # an unknown cause value keeps its number
    ("32 15 0006 00000099 0008 00 00  01 fa", {"cause": 250, "cause_name": "unknown-250"}),
    # secondary PDP context: the second NSAPI is the linked one
    ("32 10 0008 00000001 0009 00 00  14 06  14 05", {"nsapi": 6, "linked_nsapi": 5}),
    # end user address IPv4v6: IPv4 then IPv6
    ("32 11 001d 00000001 000a 00 00  80 0016 f1 8d 0a000002 20010db8000000000000000000000002",
     {"pdp_type_name": "ipv4v6", "end_user_address": ["10.0.0.2", "2001:db8::2"]}),
    # an unknown message type keeps its number
    ("32 c8 0004 00000000 000b 00 00", {"message_type": 200, "message_name": "unknown-200"}),
]


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_messages_decode_to_their_fields(hexdump: str, expected: dict) -> None:
    raw = bytes.fromhex(hexdump)
    result = gtpv1.parse_pdu(raw, True)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    fields = gtpv1.to_event(result.pdu, None)
    assert fields["gtpv1"] | expected == fields["gtpv1"]
    assert "anomalies" not in fields["gtpv1"]
    make_event("gtpv1", at(0), **fields)    # raises unless the event is schema-valid


@pytest.mark.parametrize(("hexdump", "reason"), [
    ("32 10 0055 0000", "gtpv1_truncated"),                       # fixed header cut short
    ("32 10 0055 00000000 00", "gtpv1_truncated"),                # optional fields cut short
    ("48 20 0008 00000000 000001 00", "gtpv1_not_gtpv1"),         # GTPv2-C
    ("1e 10 0004 00000000 0001 00 00", "gtpv1_not_gtpv1"),        # GTPv0
    ("32 01 0000 00000000 0001 00 00", "gtpv1_bad_length"),       # S flag, length 0
])
def test_malformed_headers(hexdump: str, reason: str) -> None:
    assert gtpv1.parse_pdu(bytes.fromhex(hexdump), True) == Malformed(reason)


def test_a_message_cut_by_the_snap_length_keeps_what_arrived() -> None:
    raw = bytes.fromhex(CREATE_REQUEST)[:40]        # cut inside the APN element
    result = gtpv1.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == 40
    fields = gtpv1.to_event(result.pdu, None)["gtpv1"]
    assert fields["imsi"] == "123456789012345" and fields["nsapi"] == 5
    assert "apn" not in fields
    assert fields["anomalies"] == ["truncated_ie", "truncated"]


def test_an_unknown_tv_element_stops_the_walk_but_keeps_the_message() -> None:
    # recovery, then TV type 6 (GTPv0 QoS, no length known in GTPv1), then cause
    raw = bytes.fromhex("32 11 000b 00000001 000c 00 00  0e 01  06 0000  01 80")
    result = gtpv1.parse_pdu(raw, True)
    assert isinstance(result, Parsed)
    fields = gtpv1.to_event(result.pdu, None)["gtpv1"]
    assert fields["recovery"] == 1 and "cause" not in fields
    assert fields["anomalies"] == ["unknown_tv_ie"]


def test_only_one_message_per_datagram() -> None:
    raw = bytes.fromhex("32 01 0004 00000000 0001 00 00" "32 01 0004 00000000 0002 00 00")
    result = gtpv1.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    assert gtpv1.to_event(result.pdu, None)["gtpv1"]["anomalies"] == ["trailing_bytes"]


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("32 10 0004 00000000 0001 00 00", True),        # create PDP context request
    ("32 01 0004 00000000 0001 00 00", True),        # echo request
    ("48 20 0008 00000000 000001 00", False),        # GTPv2-C on the same port
    ("1e 10 0004 00000000 0001 00 00", False),       # GTPv0
    ("0e 01 0004 00000000 0001", False),             # GTP' (protocol type 0)
    ("32 10", None),                                 # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert gtpv1.probe(bytes.fromhex(hexdump)) is verdict


@pytest.mark.parametrize(("hexdump", "digits"), [
    ("21436587092143f5", "123456789012345"),         # odd count: F filler ends it
    ("2143", "1234"),                                # even count: no filler
    ("a1b2", "1*2#"),                                # TBCD's * and # digits
    ("", ""),
])
def test_tbcd_digits(hexdump: str, digits: str) -> None:
    assert gtpv1.tbcd_digits(bytes.fromhex(hexdump)) == digits
