"""GTPv2-C messages from annotated bytes: piggybacking, malformed and cut messages included."""

from __future__ import annotations

import pytest

from sensor.analyzers import gtpv2
from sensor.analyzers.base import Malformed, Parsed
from tests.utils.events import at, make_event

#   flags type len  TEID     seq    spare
CREATE_SESSION_REQUEST = (
    "48    20   009e 00000000 000001 00"
    # IE type, length, instance | value
    "01 0008 00 21436587092143f5"                 # IMSI 123456789012345
    "4c 0006 00 447700510431"                     # MSISDN 447700154013
    "4b 0008 00 5319610051043100"                 # MEI 3591160015401300
    "56 000d 00 18 64f629 2e18 64f629 01ce6621"   # ULI: TAI (466/92, TAC 11800), ECGI
    "53 0003 00 64f629"                           # serving network 466/92
    "52 0001 00 06"                               # RAT type E-UTRAN
    "57 0009 00 8a 00000abc c0000201"             # F-TEID: v4, S11 MME GTP-C, 0xabc, 192.0.2.1
    "47 0009 00 08 696e7465726e6574"              # APN "internet"
    "4f 0005 00 01 00000000"                      # PAA: IPv4 0.0.0.0 (to be allocated)
    "48 0008 00 00000800 00001000"                # AMBR: 2048 up, 4096 down (kbit/s)
    "5d 001f 00"                                  # bearer context (grouped):
    "   49 0001 00 05"                            #   EBI 5
    "   50 0016 00 49 09"                         #   bearer QoS: PCI, PL 2, PVI; QCI 9
    "      0000000000 0000000000 0000000000 0000000000"   # MBR/GBR up/down
    "03 0001 00 11"                               # recovery 17
)
CREATE_SESSION_RESPONSE = (
    "48    21   0040 00000abc 000001 00"
    "02 0002 00 10 00"                            # cause 16: request accepted
    "57 0009 01 8b 00000def c0000202"             # F-TEID instance 1: S11/S4 SGW GTP-C
    "4f 0005 00 01 0a2d0002"                      # PAA: IPv4 10.45.0.2
    "5d 0018 00"                                  # bearer context:
    "   49 0001 00 05"                            #   EBI 5
    "   02 0002 00 10 00"                         #   cause 16
    "   57 0009 00 81 00001234 c0000203"          #   F-TEID: S1-U SGW GTP-U
)
CASES = [
    (CREATE_SESSION_REQUEST, {
        "message_type": 32, "message_name": "create_session_request", "teid": 0,
        "sequence": 1, "piggybacked": False, "imsi": "123456789012345",
        "msisdn": "447700154013", "mei": "3591160015401300", "uli_mcc": "466",
        "uli_mnc": "92", "uli_tac": 11800, "uli_eci": 30303777,
        "serving_network_mcc": "466", "serving_network_mnc": "92", "rat_type": 6,
        "rat_type_name": "eutran", "apn": "internet", "paa_pdn_type": 1,
        "paa_pdn_type_name": "ipv4", "paa_address": ["0.0.0.0"], "ambr_uplink": 2048,
        "ambr_downlink": 4096, "recovery": 17,
        "fteid": {"ebi": [0], "interface_type": [10], "interface_name": ["s11_mme_gtpc"],
                  "teid": [0xABC], "instance": [0], "ipv4": ["192.0.2.1"]},
        "bearer": {"ebi": [5], "qos_ebi": [5], "qci": [9], "arp_priority": [2],
                   "mbr_uplink": [0], "mbr_downlink": [0], "gbr_uplink": [0],
                   "gbr_downlink": [0]},
        "ie_types": [1, 76, 75, 86, 83, 82, 87, 71, 79, 72, 93, 3]}),
    (CREATE_SESSION_RESPONSE, {
        "message_type": 33, "teid": 0xABC, "cause": 16, "cause_name": "request_accepted",
        "paa_address": ["10.45.0.2"],
        "fteid": {"ebi": [0, 5], "interface_type": [11, 1],
                  "interface_name": ["s11s4_sgw_gtpc", "s1u_sgw_gtpu"],
                  "teid": [0xDEF, 0x1234], "instance": [1, 0],
                  "ipv4": ["192.0.2.2", "192.0.2.3"]},
        "bearer": {"ebi": [5], "cause_ebi": [5], "cause": [16],
                   "cause_name": ["request_accepted"]}}),
    # rejected: cause 69 with the offending IE (type 71 APN, length 0, instance 0)
    ("48 21 0012 00000abc 000002 00  02 0006 00 45 00 47 0000 00", {
        "cause": 69, "cause_name": "mandatory_ie_incorrect", "cause_offending_ie_type": 71,
        "cause_offending_ie_instance": 0}),
    # echo request: no TEID (T flag clear), recovery 5
    ("40 01 0009 000003 00  03 0001 00 05", {
        "message_name": "echo_request", "sequence": 3, "recovery": 5}),
    # MP flag: message priority in the high nibble of the last header octet
    ("4c 22 0008 00000001 000004 70", {"message_name": "modify_bearer_request",
                                        "message_priority": 7}),
    # PAA IPv4v6: prefix length 64, IPv6 address, then IPv4 address
    ("48 21 0022 00000001 000005 00  4f 0016 00 03 40 20010db8000000000000000000000005 0a000005",
     {"paa_pdn_type_name": "ipv4v6", "paa_ipv6_prefix_length": 64,
      "paa_address": ["2001:db8::5", "10.0.0.5"]}),
    # F-TEID with an IPv6 address only: S5/S8 PGW GTP-C
    ("48 21 0021 00000001 000006 00  57 0015 00 47 00000007 20010db8000000000000000000000007",
     {"fteid": {"ebi": [0], "interface_type": [7], "interface_name": ["s5s8_pgw_gtpc"],
                "teid": [7], "instance": [0], "ipv6": ["2001:db8::7"]}}),
    # EBI at message level (delete session request), unknown message type keeps its number
    ("48 24 000d 00000001 000007 00  49 0001 00 06", {"ebi": [6]}),
    ("40 fe 0004 000008 00", {"message_type": 254, "message_name": "unknown-254"}),
]


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_messages_decode_to_their_fields(hexdump: str, expected: dict) -> None:
    raw = bytes.fromhex(hexdump)
    result = gtpv2.parse_pdu(raw, True)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    fields = gtpv2.to_event(result.pdu, None)
    assert fields["gtpv2"] | expected == fields["gtpv2"]
    assert "anomalies" not in fields["gtpv2"]
    assert ("teid" in fields["gtpv2"]) == bool(raw[0] & 0x08)
    make_event("gtpv2", at(0), **fields)    # raises unless the event is schema-valid


def test_a_piggybacked_message_is_parsed_after_the_first() -> None:
    # create session response with the P flag, then a create bearer request
    raw = bytes.fromhex("58 21 000e 00000abc 000001 00  02 0002 00 10 00"
                        "48 5f 000d 00000abc 800001 00  49 0001 00 05")
    first = gtpv2.parse_pdu(raw, False)
    assert isinstance(first, Parsed) and first.consumed == 18
    fields = gtpv2.to_event(first.pdu, None)["gtpv2"]
    assert (fields["message_type"], fields["cause"], fields["piggybacked"]) == (33, 16, True)
    second = gtpv2.parse_pdu(raw[first.consumed:], False)
    assert isinstance(second, Parsed) and second.consumed == 17
    fields = gtpv2.to_event(second.pdu, None)["gtpv2"]
    assert (fields["message_name"], fields["sequence"], fields["ebi"]) == \
        ("create_bearer_request", 0x800001, [5])


@pytest.mark.parametrize(("hexdump", "anomalies", "consumed"), [
    # P flag set, but nothing follows
    ("50 01 0009 000001 00  03 0001 00 05", ["piggybacked_message_missing"], 13),
    # P flag clear, and two bytes follow the message
    ("40 01 0009 000001 00  03 0001 00 05  3132", ["trailing_bytes"], 15),
    # cut by the snap length inside the recovery element
    ("40 01 0009 000001 00  03 0001", ["truncated_ie", "truncated"], 11),
    # a bearer context whose EBI element claims more than the group holds
    ("48 21 0011 00000001 000001 00  5d 0005 00 49 0009 00 05", ["truncated_ie"], 21),
])
def test_how_a_message_fits_its_datagram(hexdump: str, anomalies: list[str],
                                         consumed: int) -> None:
    result = gtpv2.parse_pdu(bytes.fromhex(hexdump), True)
    assert isinstance(result, Parsed) and result.consumed == consumed
    assert gtpv2.to_event(result.pdu, None)["gtpv2"]["anomalies"] == anomalies


@pytest.mark.parametrize(("hexdump", "reason"), [
    ("3132", "gtpv2_truncated"),                           # two bytes left after a message
    ("48 20 0008 00000000 00", "gtpv2_truncated"),         # header cut inside the sequence
    ("32 01 0004 00000000 0001 00 00", "gtpv2_not_version_2"),   # GTPv1
    ("48 20 0004 00000000 000001 00", "gtpv2_bad_length"),       # T flag, length too small
])
def test_malformed_headers(hexdump: str, reason: str) -> None:
    assert gtpv2.parse_pdu(bytes.fromhex(hexdump), True) == Malformed(reason)


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("48 20 009e 00000000 000001 00", True),         # create session request
    ("40 01 0009 000001 00", True),                  # echo request without TEID
    ("32 10 0004 00000000 0001 00 00", False),       # GTPv1-C on the same port
    ("48 fe 0004 00000000", False),                  # version 2, but no such message type
    ("48 20", None),                                 # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert gtpv2.probe(bytes.fromhex(hexdump)) is verdict


@pytest.mark.parametrize(("hexdump", "mcc_mnc"), [
    ("64f629", ("466", "92")),                       # two-digit MNC: F filler
    ("130014", ("310", "410")),                      # three-digit MNC
])
def test_plmn(hexdump: str, mcc_mnc: tuple[str, str]) -> None:
    assert gtpv2.plmn(bytes.fromhex(hexdump)) == mcc_mnc
