"""NGAP messages from annotated APER bytes, with the NAS-5GS events they carry.

Each protocol IE is written ``id (2) criticality (1) length (1) value``; criticality 00 is
reject, 40 ignore. The messages come from the public captures of tests/golden (frame numbers
given) or were encoded for the case.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from liaowang.events import new_event
from liaowang.schema import validate
from sensor.analyzers import ngap
from sensor.analyzers.base import Malformed, Parsed
from sensor.sctp import SctpMessages

UE_CONTEXT_RELEASE_COMMAND = (       # [5g_NGAP]_gnodeb-to-amf-during-UEinit.pcap frame 18
    "00"              # initiatingMessage
    "29"              # procedure code 41: UEContextRelease
    "00"              # criticality reject
    "10"              # open type length 16
    "00 0002"         # UEContextReleaseCommand, 2 IEs
    "0072 00 04"      # id 114 UE-NGAP-IDs
    "  00 02 00 01"   #   uE-NGAP-ID-pair: AMF UE NGAP id 2, RAN UE NGAP id 1
    "000f 40 01"      # id 15 Cause
    "  40"            #   nas (group 2), normal-release (0)
)
UE_CONTEXT_RELEASE_COMPLETE = (      # encoded: an AMF UE NGAP id above 2^32
    "20 29 00 13"     # successfulOutcome, UEContextRelease, reject, length 19
    "00 0002"         # UEContextReleaseComplete, 2 IEs
    "000a 40 06"      # id 10 AMF-UE-NGAP-ID
    "  80 0200000005" #   5 octets: 8589934597
    "0055 40 02"      # id 85 RAN-UE-NGAP-ID
    "  00 01"         #   1 octet: 1
)
INITIAL_UE_MESSAGE = (               # [5g_NGAP]_gnodeb-to-amf-during-UEinit.pcap frame 17
    "00 0f 40 48"     # initiatingMessage, InitialUEMessage (15), ignore, length 72
    "00 0005"         # 5 IEs
    "0055 00 02 0002" # id 85 RAN-UE-NGAP-ID: 2
    "0026 00 1a 19"   # id 38 NAS-PDU, 25 octets:
    "  7e 00 41 79"   #   5GMM plain, registration request, ngKSI 7, initial + follow-on
    "  000d 01 02f839 0000 00 00 1032000010"  # SUCI 208/93, null scheme, MSIN 0123000001
    "  2e04f0f0f0f0"  #   UE security capability
    "0079 00 13 50"   # id 121 UserLocationInformation: userLocationInformationNR
    "  02f839 0000000100"    # NR-CGI: PLMN 208/93, cell 16 (36 bits, then padding)
    "  02f839 000005" #   TAI: PLMN 208/93, TAC 5
    "  e8efd29e"      #   time stamp
    "005a 40 01 18"   # id 90 RRCEstablishmentCause: mo-Signalling
    "0070 40 01 00"   # id 112 UEContextRequest: requested
)
NG_SETUP_REQUEST = (                 # [5g_NGAP_(s1ap_in_4g)]--gnodeb--init--to--amf.pcap frame 5
    "00 15 00 41"     # initiatingMessage, NGSetup (21), reject, length 65
    "00 0004"         # 4 IEs
    "001b 00 09"      # id 27 GlobalRANNodeID
    "  00 02f839 50 00000001"  # globalGNB-ID: PLMN 208/93, gNB-ID of 32 bits: 1
    "0052 40 17 0a00" # id 82 RANNodeName, 21 characters:
    "  554552414e53494d2d676e622d3230382d39332d31"  # "UERANSIM-gnb-208-93-1"
    "0066 00 0d"      # id 102 SupportedTAList
    "  00000000050002f83900000008"   # TAC 5, PLMN 208/93, slice SST 1
    "0015 40 01 40"   # id 21 DefaultPagingDRX: v128
)
NG_SETUP_RESPONSE = (                # same capture, frame 7
    "20 15 00 32"     # successfulOutcome, NGSetup (21), reject, length 50
    "00 0004"         # 4 IEs
    "0001 00 0e 05 80 6f70656e3567732d616d6630"  # id 1 AMFName: "open5gs-amf0"
    "0060 00 08 00 00 02f839 02 0040"  # id 96 ServedGUAMIList: PLMN 208/93, region 2, set 1
    "0056 40 01 ff"   # id 86 RelativeAMFCapacity: 255
    "0050 00 08 00 02f839 000000 08"  # id 80 PLMNSupportList: 208/93, SST 1
)
PDU_SESSION_RESOURCE_SETUP_REQUEST = (  # [5g_NGAP]_gnodeb-to-amf-during-UEinit.pcap frame 29
    "00 1d 00 80ae"   # initiatingMessage, PDUSessionResourceSetup (29), reject, length 174
    "00 0004"
    "000a 00 02 0003" # AMF-UE-NGAP-ID 3
    "0055 00 02 0002" # RAN-UE-NGAP-ID 2
    "004a 00 808c"    # id 74 PDUSessionResourceSetupListSUReq
    "  00 40 01"      #   one item, PDU session id 1, with a NAS PDU:
    "  56 7e02b9d3e434037e00680100472e0101c211000901000631310101ff01060b00010b00012905010a"
    "  2d00042201017900060120410101097b000f80000d0408080808000d0408080404250908696e7465726e6574"
    "  120100"        #   security header 2: integrity protected and ciphered
    "  202f0000040082000a0c400000003040000000008b000a01f0ac1f6f070000000a008600010000880007"
    "  00010000091c00"  # slice and the setup request transfer
    "006e 40 0a 0c400000003040000000"  # id 110 UEAggregateMaximumBitRate
)
INITIAL_CONTEXT_SETUP_FAILURE = (    # docs__assets__pcapng__testregistration.pcapng frame 4102
    "40 0e 00 15"     # unsuccessfulOutcome, InitialContextSetup (14), reject, length 21
    "00 0003"
    "000a 40 02 0025" # AMF-UE-NGAP-ID 37
    "0055 40 02 0001" # RAN-UE-NGAP-ID 1
    "000f 40 02 0540" # Cause radioNetwork (0) radio-connection-with-ue-lost (21)
)
BAD_NAS_DOWNLINK = (                 # encoded: a NAS PDU that is not NAS-5GS
    "00 04 40 17 00 0003"            # DownlinkNASTransport, 3 IEs
    "000a 00 02 0001 0055 00 02 0001"  # AMF and RAN UE NGAP ids 1
    "0026 00 04 03 0b0102"           # NAS-PDU of 3 octets, protocol discriminator 0x0b
)

CASES = [
    (UE_CONTEXT_RELEASE_COMMAND, {
        "procedure_code": 41, "procedure_name": "UEContextRelease",
        "message_name": "UEContextReleaseCommand", "pdu_type": "initiatingMessage",
        "criticality": "reject", "amf_ue_ngap_id": 2, "ran_ue_ngap_id": 1,
        "cause": {"group": "nas", "name": "normal-release", "value": 0}}),
    (UE_CONTEXT_RELEASE_COMPLETE, {
        "pdu_type": "successfulOutcome", "amf_ue_ngap_id": 8589934597, "ran_ue_ngap_id": 1}),
    (INITIAL_UE_MESSAGE, {
        "procedure_code": 15, "procedure_name": "InitialUEMessage", "criticality": "ignore",
        "ran_ue_ngap_id": 2, "tai": {"mcc": "208", "mnc": "93", "tac": 5},
        "nr_cgi": {"mcc": "208", "mnc": "93", "cell_id": 16},
        "plmn": {"mcc": "208", "mnc": "93"}, "rrc_establishment_cause": "mo-Signalling",
        "nas_pdu_count": 1}),
    (NG_SETUP_REQUEST, {
        "procedure_code": 21, "procedure_name": "NGSetup", "message_name": "NGSetupRequest",
        "ran_node_name": "UERANSIM-gnb-208-93-1",
        "global_ran_node_id": {"type": "globalGNB-ID", "mcc": "208", "mnc": "93", "id": 1,
                               "id_bits": 32}}),
    (NG_SETUP_RESPONSE, {
        "pdu_type": "successfulOutcome", "amf_name": "open5gs-amf0",
        "guami": {"mcc": "208", "mnc": "93", "amf_region_id": 2, "amf_set_id": 1,
                  "amf_pointer": 0}}),
    (PDU_SESSION_RESOURCE_SETUP_REQUEST, {
        "procedure_code": 29, "amf_ue_ngap_id": 3, "ran_ue_ngap_id": 2,
        "pdu_session_ids": [1], "nas_pdu_count": 1}),
    (INITIAL_CONTEXT_SETUP_FAILURE, {
        "pdu_type": "unsuccessfulOutcome", "message_name": "InitialContextSetupFailure",
        "amf_ue_ngap_id": 37,
        "cause": {"group": "radioNetwork", "name": "radio-connection-with-ue-lost",
                  "value": 21}}),
]


def events_of(hexdump: str) -> list[dict]:
    raw = bytes.fromhex(hexdump)
    result = ngap.parse_pdu(raw, True)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    return ngap.ANALYZER.events(result.pdu, None)


def as_event(fields: dict) -> dict:
    """The fields as the engine would complete them into an event."""
    dataset = fields.get("event", {}).get("dataset", "ngap")
    event = new_event(dataset, 1_700_000_000_000_000, "test")
    event["event"]["id"] = "x"
    for key, value in fields.items():
        event[key] = event[key] | value if isinstance(event.get(key), dict) else value
    return event


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_messages_decode_to_their_fields(hexdump: str, expected: dict) -> None:
    first, *_ = events_of(hexdump)
    assert first["network"] == {"protocol": "ngap"}
    assert first["ngap"] | expected == first["ngap"]


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_every_event_validates(hexdump: str, expected: dict) -> None:
    for fields in events_of(hexdump):
        assert validate(as_event(fields)) == []


def test_a_nas_pdu_becomes_a_second_event_with_the_ue_ids() -> None:
    _, nas_event = events_of(INITIAL_UE_MESSAGE)
    assert nas_event["event"] == {"dataset": "nas5gs"}
    assert nas_event["ngap"] == {"procedure_code": 15, "procedure_name": "InitialUEMessage",
                                 "ran_ue_ngap_id": 2}
    assert nas_event["nas5gs"]["message_name"] == "registration_request"
    assert nas_event["nas5gs"]["suci"] == "suci-0-208-93-0000-0-0-0123000001"
    assert nas_event["nas5gs"]["suci_null_scheme"] is True


def test_a_nas_pdu_inside_a_session_list_is_found_and_stays_ciphered() -> None:
    _, nas_event = events_of(PDU_SESSION_RESOURCE_SETUP_REQUEST)
    assert nas_event["nas5gs"]["security_header_type"] == 2
    assert nas_event["nas5gs"]["ciphered"] is True
    assert "message_type" not in nas_event["nas5gs"]


def test_messages_without_nas_make_one_event() -> None:
    assert len(events_of(UE_CONTEXT_RELEASE_COMMAND)) == 1


def test_an_unreadable_nas_pdu_becomes_a_weird_beside_the_ngap_event() -> None:
    ngap_event, weird = events_of(BAD_NAS_DOWNLINK)
    assert ngap_event["ngap"]["procedure_name"] == "DownlinkNASTransport"
    assert weird["event"] == {"dataset": "weird"}
    assert weird["weird"] == {"name": "nas5gs_unknown_protocol_discriminator",
                              "analyzer": "ngap"}
    assert validate(as_event(weird)) == []


@pytest.mark.parametrize(("hexdump", "reason"), [
    ("", ngap.Anomaly.BAD_CHOICE),
    ("80 00 00 00", ngap.Anomaly.BAD_CHOICE),            # extension bit set: no such PDU
    ("60 0f 00 00", ngap.Anomaly.BAD_CHOICE),            # fourth choice: not in NGAP-PDU
    ("00 29 00 10 00 0002 0072 00 04 00 02", ngap.Anomaly.UNDECODABLE),  # cut inside an IE
    ("00 0f 40 05 ffffffffff", ngap.Anomaly.UNDECODABLE),          # IE list of garbage
    ("00 29 40 10" + "ff" * 16, ngap.Anomaly.UNDECODABLE),
])
def test_malformed_messages(hexdump: str, reason: str) -> None:
    assert ngap.parse_pdu(bytes.fromhex(hexdump), True) == Malformed(reason)


@pytest.mark.parametrize(("hexdump", "verdict"), [
    (UE_CONTEXT_RELEASE_COMMAND, True),
    (UE_CONTEXT_RELEASE_COMPLETE, True),
    (INITIAL_CONTEXT_SETUP_FAILURE, True),
    ("1603 0100 2e01", False),           # a TLS record
    ("00 0f 41", False),                 # criticality with stray bits
    ("00 0f", None),                     # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert ngap.probe(bytes.fromhex(hexdump)) is verdict


def data_chunk(flags: int, data: bytes, ppid: int = 60) -> bytes:
    """An SCTP DATA chunk (B/E flags in ``flags``) on stream 1."""
    length = 16 + len(data)
    chunk = bytes([0, flags]) + length.to_bytes(2, "big") + bytes(4) + b"\x00\x01\x00\x00" + \
        ppid.to_bytes(4, "big") + data
    return chunk + bytes(-len(chunk) % 4)


def test_two_messages_bundled_in_one_packet_are_two_pdus() -> None:
    first, second = bytes.fromhex(UE_CONTEXT_RELEASE_COMMAND), bytes.fromhex(INITIAL_UE_MESSAGE)
    messages = SctpMessages().add(data_chunk(3, first) + data_chunk(3, second))
    results = [ngap.parse_pdu(m.data, True) for m in messages]
    assert [r.pdu.procedure_code for r in results if isinstance(r, Parsed)] == [41, 15]


def test_a_message_split_over_chunks_is_one_pdu() -> None:
    raw = bytes.fromhex(PDU_SESSION_RESOURCE_SETUP_REQUEST)
    messages = SctpMessages()
    assert messages.add(data_chunk(2, raw[:60])) == []
    assert messages.add(data_chunk(0, raw[60:120])) == []
    (whole,) = messages.add(data_chunk(1, raw[120:]))
    result = ngap.parse_pdu(whole.data, True)
    assert isinstance(result, Parsed) and result.pdu.ies["pdu_session_ids"] == [1]
    assert ngap.parse_pdu(raw[:120], True) == Malformed(ngap.Anomaly.UNDECODABLE)


def test_a_sensor_loads_the_decoders_before_the_first_message() -> None:
    """A live sensor loads pycrate's NGAP and NAS decoders before capturing (a fresh
    interpreter: other tests here have loaded them already)."""
    script = """
import sys
from sensor.analyzers import ngap
from sensor.engine import Sensor
sensor = Sensor("t")
before = (ngap._ngap is not None, "pycrate_mobile.NAS5G" in sys.modules)
sensor.load_analyzers()
print(before, (ngap._ngap is not None, "pycrate_mobile.NAS5G" in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["(False,", "False)", "(True,", "True)"]
