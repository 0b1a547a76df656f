"""NAS-5GS messages from annotated bytes: headers, identities, causes, and what stays ciphered.

5GMM header: EPD 7e, security header type (low half of octet 2), message type. A protected
message adds MAC (4 octets) and sequence number (1) before the inner message. 5GSM header: EPD
2e, PDU session id, PTI, message type. Several messages are taken from the public captures of
the NGAP oracle test.
"""

from __future__ import annotations

import pytest

from liaowang.events import new_event
from liaowang.schema import validate
from sensor.codecs import nas5gs
from sensor.codecs.nas5gs import Anomaly, NasMalformed

SUCI_NULL_SCHEME = (               # [5g_NGAP]_gnodeb-to-amf-during-UEinit.pcap frame 17
    "7e 00 41"        # 5GMM, plain, registration request
    "79"              # ngKSI 7 (no key) | follow-on request + initial registration
    "000d 01"         # 5GS mobile identity, 13 octets: SUCI, SUPI format IMSI
    "02f839"          # MCC 208, MNC 93
    "0000"            # routing indicator 0000
    "00 00"           # protection scheme: null; home network public key id 0
    "1032000010"      # scheme output = the MSIN in clear: 0123000001
    "2e04f0f0f0f0"    # UE security capability
)
SUCI_PROFILE_A = (
    "7e 00 41 02"     # registration request, ngKSI 0, mobility registration updating
    "0035 01 00f110"  # 53 octets: SUCI, IMSI format, MCC 001, MNC 01
    "2143"            # routing indicator 1234
    "01 05"           # protection scheme: ECIES profile A; home network public key id 5
    + "ab" * 32 +     # ephemeral public key
    "c0ffee0102"      # ciphered MSIN
    "0102030405060708"  # MAC tag
)
REGISTRATION_ACCEPT_WITH_GUTI = (  # inner message of the InitialContextSetupRequest, frame 24
    "7e 00 42"        # registration accept
    "01 01"           # 5GS registration result: 3GPP access
    "77 000b f2"      # 5GS mobile identity (IEI 77), 11 octets: 5G-GUTI
    "02f839"          # MCC 208, MNC 93
    "02 0040"         # AMF region 2, AMF set 1, AMF pointer 0
    "c1003dbf"        # 5G-TMSI
    "54 07 2002f839000005"  # TAI list
    "15 02 0101"      # allowed NSSAI
    "21 02 0100"      # network feature support
    "5e 01 a9"        # T3512
)
PROTECTED_SECURITY_MODE_COMPLETE = (
    "7e 01 a1b2c3d4 07"     # integrity protected: MAC, sequence number 7
    "7e 00 5e"              # inner: plain security mode complete
    "77 0009 45"            # IMEISV (IEI 77), 9 octets: first digit 4, even, type IMEISV
    "73806121856151f1"     # then BCD digits 370816125816151 and a filler f
)
CIPHERED_REGISTRATION_COMPLETE = (  # [5g_NGAP]_gnodeb-to-amf-during-UEinit.pcap frame 27
    "7e 02 9a06f893 01"     # integrity protected and ciphered: MAC, sequence number 1
    "7e 00 43"              # (NEA0: the registration complete shows, but is not read)
)
CIPHERED_NEW_CONTEXT = (            # frame 23: security mode complete under the new context
    "7e 04 485c36ba 00 7e005e7700094573806121856151f1"
)
DL_NAS_TRANSPORT_SM_REJECT = (
    "7e 00 68"        # DL NAS transport
    "01"              # payload container type: N1 SM information
    "0005"            # payload container, 5 octets:
    "2e 05 01 c3 1b"  #   5GSM, PDU session 5, PTI 1, establishment reject, cause 27
    "12 05"           # PDU session id (IEI 12): 5
)
SM_RELEASE_COMMAND = "2e 05 01 d3 24"   # 5GSM, session 5, PTI 1, release command, cause 36
REGISTRATION_REJECT = "7e 00 44 07"     # registration reject, 5GMM cause 7
IDENTITY_REQUEST = "7e 00 5b 01"        # identity request: SUCI
SERVICE_REQUEST = (
    "7e 00 4c 10"     # service request, ngKSI 1, service type signalling
    "0007 f4 0040 c7004bb3"  # 5G-S-TMSI: AMF set 1, pointer 0, 5G-TMSI c7004bb3
)

CASES = [
    (SUCI_NULL_SCHEME, {
        "epd": 126, "epd_name": "5gmm", "security_header_type": 0,
        "security_header_name": "plain", "message_type": 0x41,
        "message_name": "registration_request", "registration_type": 1,
        "registration_type_name": "initial_registration", "follow_on_request": True,
        "identity_type": 1, "identity_type_name": "suci", "supi_format": 0,
        "supi_format_name": "imsi", "mcc": "208", "mnc": "93", "routing_indicator": "0000",
        "protection_scheme_id": 0, "protection_scheme_name": "null", "suci_null_scheme": True,
        "home_network_public_key_id": 0, "suci": "suci-0-208-93-0000-0-0-0123000001"}),
    (SUCI_PROFILE_A, {
        "registration_type_name": "mobility_registration_updating", "follow_on_request": False,
        "mcc": "001", "mnc": "01", "routing_indicator": "1234", "protection_scheme_id": 1,
        "protection_scheme_name": "ecies_profile_a", "suci_null_scheme": False,
        "home_network_public_key_id": 5,
        "suci": "suci-0-001-01-1234-1-5-" + "ab" * 32 + "c0ffee01020102030405060708"}),
    (REGISTRATION_ACCEPT_WITH_GUTI, {
        "message_name": "registration_accept", "identity_type": 2,
        "identity_type_name": "5g_guti", "mcc": "208", "mnc": "93", "amf_region_id": 2,
        "amf_set_id": 1, "amf_pointer": 0, "tmsi": "c1003dbf",
        "guti": "5g-guti-20893-020040-c1003dbf"}),
    (PROTECTED_SECURITY_MODE_COMPLETE, {
        "security_header_type": 1, "security_header_name": "integrity_protected",
        "sequence_number": 7, "ciphered": False, "message_type": 0x5E,
        "message_name": "security_mode_complete", "identity_type": 5,
        "imeisv": "4370816125816151"}),
    (CIPHERED_REGISTRATION_COMPLETE, {
        "security_header_type": 2, "security_header_name": "integrity_protected_and_ciphered",
        "sequence_number": 1, "ciphered": True}),
    (CIPHERED_NEW_CONTEXT, {"security_header_type": 4, "ciphered": True}),
    (DL_NAS_TRANSPORT_SM_REJECT, {
        "message_type": 0x68, "message_name": "dl_nas_transport", "payload_container_type": 1,
        "payload_container_name": "n1_sm_information", "pdu_session_id": 5,
        "sm": {"pdu_session_id": 5, "pti": 1, "message_type": 0xC3,
               "message_name": "pdu_session_establishment_reject", "cause": 27,
               "cause_name": "missing_or_unknown_dnn"}}),
    (SM_RELEASE_COMMAND, {
        "epd": 46, "epd_name": "5gsm", "security_header_type": 0, "message_type": 0xD3,
        "message_name": "pdu_session_release_command", "pdu_session_id": 5,
        "sm": {"pdu_session_id": 5, "pti": 1, "message_type": 0xD3,
               "message_name": "pdu_session_release_command", "cause": 36,
               "cause_name": "regular_deactivation"}}),
    (REGISTRATION_REJECT, {
        "message_name": "registration_reject", "mm_cause": 7,
        "mm_cause_name": "5gs_services_not_allowed"}),
    (IDENTITY_REQUEST, {
        "message_name": "identity_request", "requested_identity_type": 1,
        "requested_identity_type_name": "suci"}),
    (SERVICE_REQUEST, {
        "message_name": "service_request", "identity_type": 4,
        "identity_type_name": "5g_s_tmsi", "amf_set_id": 1, "amf_pointer": 0,
        "tmsi": "c7004bb3"}),
    ("7e 00 99", {"message_type": 0x99, "message_name": "unknown-153", "body_decoded": False}),
    # security mode command, integrity protected with new context: 5G-EA0 / 5G-IA2 selected,
    # ngKSI 0, replayed UE security capabilities (EA f0, IA f0)
    ("7e 03 5c2e8a2f 00 7e 00 5d 02 00 02f0f0", {
        "message_name": "security_mode_command", "ciphering_algorithm": 0,
        "integrity_algorithm": 2}),
    ("7e 00 5d 10 00 02f0f0", {"ciphering_algorithm": 1, "integrity_algorithm": 0}),  # null IA
]


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_messages_decode_to_their_fields(hexdump: str, expected: dict) -> None:
    fields = nas5gs.decode(bytes.fromhex(hexdump))
    assert fields | expected == fields


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_every_message_makes_a_valid_event(hexdump: str, expected: dict) -> None:
    event = new_event("nas5gs", 1_700_000_000_000_000, "test")
    event["event"]["id"] = "x"
    event["nas5gs"] = nas5gs.decode(bytes.fromhex(hexdump))
    assert validate(event) == []


@pytest.mark.parametrize("hexdump", [CIPHERED_REGISTRATION_COMPLETE, CIPHERED_NEW_CONTEXT])
def test_a_ciphered_message_keeps_its_inner_type_unknown(hexdump: str) -> None:
    fields = nas5gs.decode(bytes.fromhex(hexdump))
    assert "message_type" not in fields and "message_name" not in fields


def test_only_the_null_scheme_is_flagged_as_msin_in_clear() -> None:
    assert nas5gs.decode(bytes.fromhex(SUCI_NULL_SCHEME))["suci_null_scheme"] is True
    assert nas5gs.decode(bytes.fromhex(SUCI_PROFILE_A))["suci_null_scheme"] is False


@pytest.mark.parametrize(("hexdump", "expected"), [
    ("3b 21 43 65 87 09 21 43", {"identity_type_name": "imei", "imei": "312345678901234"}),
    ("06 00 11 22 33 44 55", {"identity_type_name": "mac_address",
                              "mac_address": "00:11:22:33:44:55"}),
    ("11 75736572406578616d706c652e6f7267",   # SUPI format NAI: user@example.org
     {"supi_format_name": "network_specific_identifier", "suci": "nai-user@example.org"}),
    ("00", {"identity_type_name": "no_identity"}),
])
def test_other_mobile_identities(hexdump: str, expected: dict) -> None:
    fields = nas5gs.mobile_identity(bytes.fromhex(hexdump))
    assert fields | expected == fields


@pytest.mark.parametrize(("hexdump", "reason"), [
    ("7e", Anomaly.TRUNCATED),
    ("7e 00", Anomaly.TRUNCATED),
    ("0b 01 02", Anomaly.UNKNOWN_EPD),                 # not a 5GS protocol discriminator
    ("7e 07 00", Anomaly.UNKNOWN_SECURITY_HEADER),     # security header types stop at 4
    ("7e 02 a1b2c3", Anomaly.TRUNCATED),               # protected header cut in its MAC
    ("7e 01 a1b2c3d4 05 7e00", Anomaly.TRUNCATED),     # inner message cut in its header
    ("7e 01 a1b2c3d4 05 0b0000", Anomaly.UNKNOWN_EPD),  # inner message not NAS-5GS
    ("2e 05 01", Anomaly.TRUNCATED),                   # 5GSM header without message type
])
def test_unreadable_headers(hexdump: str, reason: Anomaly) -> None:
    with pytest.raises(NasMalformed) as caught:
        nas5gs.decode(bytes.fromhex(hexdump))
    assert caught.value.reason == reason


@pytest.mark.parametrize("hexdump", [
    "",                       # nothing at all
    "f2 02f839 02",           # 5G-GUTI cut after its AMF region
    "01 02f839 00",           # SUCI cut in its routing indicator
    "f4 0040",                # 5G-S-TMSI without its TMSI
    "06 0011",                # MAC address of two octets
])
def test_bad_mobile_identities(hexdump: str) -> None:
    with pytest.raises(NasMalformed) as caught:
        nas5gs.mobile_identity(bytes.fromhex(hexdump))
    assert caught.value.reason == Anomaly.BAD_MOBILE_IDENTITY


@pytest.mark.parametrize(("octets", "plmn"), [
    ("02f839", ("208", "93")),     # two-digit MNC: filler f
    ("130014", ("310", "410")),    # three-digit MNC
    ("00f110", ("001", "01")),
])
def test_plmn_digits(octets: str, plmn: tuple[str, str]) -> None:
    assert nas5gs.plmn(bytes.fromhex(octets)) == plmn
