"""Diameter messages from annotated bytes, including malformed ones.

``avp(code, flags, data, vendor)`` writes one AVP (code, flags, length, optional vendor id,
data, padding) so each case reads as a list of AVPs after the 20-byte header.
"""

from __future__ import annotations

import pytest

from sensor.analyzers import diameter
from sensor.analyzers.base import Malformed, NeedMore, Parsed


def avp(code: int, flags: int, data: bytes, vendor: int | None = None) -> bytes:
    header = 12 if vendor is not None else 8
    raw = code.to_bytes(4, "big") + bytes([flags]) + (header + len(data)).to_bytes(3, "big")
    raw += vendor.to_bytes(4, "big") if vendor is not None else b""
    return raw + data + bytes(-len(data) % 4)


def message(header_hex: str, *avps: bytes) -> bytes:
    """``header_hex``: flags, command code, application id, hop-by-hop, end-to-end."""
    rest = bytes.fromhex(header_hex)
    body = b"".join(avps)
    return b"\x01" + (4 + len(rest) + len(body)).to_bytes(3, "big") + rest + body


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


ULR = message(
    "c0 00013c 01000023 0000abcd 00001234",         # R|P, ULR (316), S6a, hop, end-to-end
    avp(263, 0x40, b"mme.epc;1;1"),                 # Session-Id
    avp(264, 0x40, b"mme.epc"),                     # Origin-Host
    avp(296, 0x40, b"epc"),                         # Origin-Realm
    avp(283, 0x40, b"epc"),                         # Destination-Realm
    avp(1, 0x40, b"001010000000001"),               # User-Name (IMSI)
    avp(1032, 0xc0, u32(1004), vendor=10415),       # RAT-Type EUTRAN (3GPP)
    avp(1407, 0xc0, bytes.fromhex("00f110"), vendor=10415),   # Visited-PLMN-Id 001/01
    avp(260, 0x40,                                  # Vendor-Specific-Application-Id
        avp(266, 0x40, u32(10415)) + avp(258, 0x40, u32(16777251))),
)
ULA_UNKNOWN = message(
    "40 00013c 01000023 0000abcd 00001234",         # P, ULA, S6a, same ids
    avp(264, 0x40, b"hss.epc"),                     # Origin-Host
    avp(297, 0x40,                                  # Experimental-Result
        avp(266, 0x40, u32(10415)) + avp(298, 0x40, u32(5001))),   # 3GPP, user unknown
)
CCA = message(
    "40 000110 01000016 00000007 00000008",         # P, CCA (272), Gx
    avp(268, 0x40, u32(2001)),                      # Result-Code success
    avp(416, 0x40, u32(1)),                         # CC-Request-Type initial
    avp(415, 0x40, u32(0)),                         # CC-Request-Number
    avp(443, 0x40,                                  # Subscription-Id
        avp(450, 0x40, u32(0)) + avp(444, 0x40, b"491725670014")),   # E.164, MSISDN
)
DWR = message("80 000118 00000000 00000001 00000002",   # R, DWR (280), base
              avp(264, 0x40, b"pcrf"))


def fields_of(raw: bytes, state: diameter.DiameterState | None = None) -> dict:
    result = diameter.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == len(raw), result
    return diameter.to_event(result.pdu, state or diameter.new_state())["diameter"]


@pytest.mark.parametrize(("raw", "expected"), [
    (ULR, {"command_code": 316, "command_name": "ULR", "application_id": 16777251,
           "application_name": "s6a", "is_request": True, "is_proxiable": True,
           "hop_by_hop_id": 0xABCD, "end_to_end_id": 0x1234, "session_id": "mme.epc;1;1",
           "origin_host": "mme.epc", "origin_realm": "epc", "destination_realm": "epc",
           "user_name": "001010000000001", "rat_type": 1004, "rat_type_name": "eutran",
           "visited_plmn_id": "00101", "auth_application_id": 16777251,
           "avp_codes": [263, 264, 296, 283, 1, 1032, 1407, 260]}),
    (ULA_UNKNOWN, {"command_name": "ULA", "is_request": False, "origin_host": "hss.epc",
                   "experimental_result_vendor": 10415, "experimental_result_code": 5001,
                   "experimental_result_name": "error_user_unknown"}),
    (CCA, {"command_name": "CCA", "application_name": "gx", "result_code": 2001,
           "result_name": "success", "cc_request_type": 1,
           "cc_request_type_name": "initial_request", "cc_request_number": 0,
           "subscription_id": "491725670014", "subscription_id_type": "e164"}),
    (DWR, {"command_name": "DWR", "application_name": "base", "is_request": True,
           "is_proxiable": False, "origin_host": "pcrf"}),
    # an unknown command and application keep their numbers
    (message("80 123456 00abcdef 00000001 00000002"),
     {"command_code": 0x123456, "command_name": "unknown-1193046",
      "application_name": "unknown-11259375", "avp_codes": []}),
])
def test_messages_decode_to_their_fields(raw: bytes, expected: dict) -> None:
    fields = fields_of(raw)
    assert fields | expected == fields


def test_an_answer_is_paired_with_its_request_by_hop_by_hop_id() -> None:
    state = diameter.new_state()
    fields_of(ULR, state)
    answer = fields_of(ULA_UNKNOWN, state)
    assert answer["request_command_name"] == "ULR"
    assert answer["user_name"] == "001010000000001"     # the IMSI of the request
    again = fields_of(ULA_UNKNOWN, state)               # a second answer finds no request
    assert "request_command_name" not in again and "user_name" not in again


def test_pending_requests_are_capped() -> None:
    state = diameter.new_state()
    for hop in range(diameter.MAX_PENDING + 50):
        fields_of(message(f"80 000118 00000000 {hop:08x} 00000000"), state)
    assert len(state.pending) == diameter.MAX_PENDING


def test_two_messages_in_one_buffer_are_taken_one_at_a_time() -> None:
    buf = DWR + CCA
    first = diameter.parse_pdu(buf, False)
    assert isinstance(first, Parsed) and first.consumed == len(DWR)
    second = diameter.parse_pdu(buf[first.consumed:], False)
    assert isinstance(second, Parsed) and second.pdu.command_code == 272


@pytest.mark.parametrize(("raw", "outcome"), [
    (ULR[:12], NeedMore(20)),                               # header cut short
    (ULR[:40], NeedMore(len(ULR))),                         # AVPs cut short
    (b"\x02" + ULR[1:], Malformed(diameter.Anomaly.BAD_VERSION)),
    (bytes.fromhex("01 000010 80 000118 00000000 00000001 00000002"),   # length 16 < 20
     Malformed(diameter.Anomaly.BAD_LENGTH)),
    (bytes.fromhex("01 000016 80 000118 00000000 00000001 00000002 0000"),   # not 4-aligned
     Malformed(diameter.Anomaly.BAD_LENGTH)),
    (bytes.fromhex("01 100000 80 000118 00000000 00000001 00000002"),   # 1 MiB
     Malformed(diameter.Anomaly.BAD_LENGTH)),
])
def test_incomplete_and_malformed_headers(raw: bytes, outcome: object) -> None:
    assert diameter.parse_pdu(raw, True) == outcome


def test_a_bad_avp_length_keeps_the_message_with_an_anomaly() -> None:
    raw = message("80 000118 00000000 00000001 00000002",
                  avp(264, 0x40, b"pcrf"),                  # Origin-Host
                  bytes.fromhex("00000128 40 0000ff 00000000"))   # Origin-Realm, length 255
    fields = fields_of(raw)
    assert fields["origin_host"] == "pcrf"
    assert fields["anomalies"] == ["diameter_bad_avp_length"]


def test_grouped_avps_nest_to_a_bounded_depth() -> None:
    inner = avp(298, 0x40, u32(5001))
    for _ in range(10):                                     # Experimental-Result in itself
        inner = avp(297, 0x40, inner)
    result = diameter.parse_pdu(message("80 000118 00000000 00000001 00000002", inner), True)
    assert isinstance(result, Parsed)
    depth, node = 0, result.pdu.avps[0]
    while node.children:
        depth, node = depth + 1, node.children[0]
    assert depth == diameter.MAX_DEPTH


@pytest.mark.parametrize(("payload", "verdict"), [
    (DWR, True),
    (DWR[:10], None),                                       # too short to tell
    (b"", None),
    (bytes.fromhex("16 030100 2e 01 000000 00000000 00000000 00000000"), False),   # TLS
    (bytes.fromhex("01 000014 8f 000118 00000000 00000001 00000002"), False),  # reserved flags
    (bytes.fromhex("01 000013 80 000118 00000000 00000001 00000002"), False),  # length 19
])
def test_probe(payload: bytes, verdict: bool | None) -> None:
    assert diameter.probe(payload) is verdict


def test_the_sctp_analyzer_reads_diameter_ppids() -> None:
    tcp, sctp = diameter.ANALYZERS
    assert (tcp.transport, sctp.transport) == ("tcp", "sctp")
    assert sctp.ppids == (46, 0) and tcp.ports == sctp.ports == (3868,)
