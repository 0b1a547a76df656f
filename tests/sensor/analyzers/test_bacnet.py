"""BACnet/IP messages from annotated bytes, including malformed ones."""

from __future__ import annotations

import pytest

from liaowang.schema import validate
from sensor.analyzers import bacnet
from sensor.analyzers.base import Malformed, NeedMore, Parsed


def bvlc(function: str, body: str) -> str:
    """A BVLC header (type 0x81, function, length) in front of ``body``."""
    return f"81{function}{4 + len(bytes.fromhex(body)):04x}" + body


CASES = [
    # Who-Is 3..3 broadcast to every network: NPDU v1, control 0x20 (DNET), DNET 0xffff,
    # DLEN 0, hop count 255; APDU unconfirmed (0x10) who-is (8), [0] 3, [1] 3
    (bvlc("0b", "01 20 ffff 00 ff" "10 08 0903 1903"), {
        "bvlc_function": 11, "bvlc_function_name": "original_broadcast_npdu",
        "npdu": {"version": 1, "control": 0x20, "expecting_reply": False, "priority": 0,
                 "destination_network": 0xFFFF, "destination_address": "", "hop_count": 255},
        "apdu_type": 1, "apdu_type_name": "unconfirmed_request", "service": 8,
        "service_name": "who_is", "low_limit": 3, "high_limit": 3}),
    # I-Am: device 1 (object id 0x02000001), max APDU 1476, no segmentation (3), vendor 260
    (bvlc("0b", "01 00" "10 00 c4 02000001 22 05c4 91 03 22 0104"), {
        "service_name": "i_am", "object_type": 8, "object_type_name": "device",
        "object_instance": 1, "max_apdu_accepted": 1476, "segmentation": 3,
        "segmentation_name": "no_segmentation", "vendor_id": 260}),
    # ReadProperty analog-input 1 present-value: confirmed (0x00), max APDU code 5, invoke 1
    (bvlc("0a", "01 04" "00 05 01 0c" "0c 00000001" "19 55"), {
        "apdu_type": 0, "invoke_id": 1, "service": 12, "service_name": "read_property",
        "object_type": 0, "object_type_name": "analog_input", "object_instance": 1,
        "property_id": 85, "property_name": "present_value", "segmented": False}),
    # ReadProperty ComplexACK (0x30), invoke 1, with value REAL 21.5 in [3]
    (bvlc("0a", "01 00" "30 01 0c" "0c 00000001 19 55 3e 44 41ac0000 3f"), {
        "apdu_type_name": "complex_ack", "service": 12, "property_id": 85, "value_tag": 4,
        "value_tag_name": "real", "value": "21.5"}),
    # WriteProperty analog-output 5 present-value = REAL 100.0, array index 2, priority 8
    (bvlc("0a", "01 04" "00 05 02 0f" "0c 00400005 19 55 29 02 3e 44 42c80000 3f 49 08"), {
        "service_name": "write_property", "object_type": 1, "object_instance": 5,
        "property_id": 85, "array_index": 2, "value_tag": 4, "value": "100.0", "priority": 8}),
    # WriteProperty binary-value 3 present-value = ENUMERATED 1 (active), no priority
    (bvlc("0a", "01 04" "00 05 03 0f" "0c 01400003 19 55 3e 91 01 3f"), {
        "object_type_name": "binary_value", "value_tag_name": "enumerated", "value": "1"}),
    # DeviceCommunicationControl: 60 minutes, disable (1), no password
    (bvlc("0a", "01 04" "00 05 04 11" "09 3c 19 01"), {
        "service_name": "device_communication_control", "duration": 60,
        "communication_state": 1, "communication_state_name": "disable",
        "password_present": False}),
    # SimpleACK (0x20) of WriteProperty, invoke 2
    (bvlc("0a", "01 00" "20 02 0f"), {"apdu_type_name": "simple_ack", "invoke_id": 2,
                                      "service_name": "write_property"}),
    # Error (0x50) of WriteProperty: class property (2), code write-access-denied (40)
    (bvlc("0a", "01 00" "50 02 0f 91 02 91 28"), {
        "apdu_type_name": "error", "error_class": 2, "error_class_name": "property",
        "error_code": 40, "error_code_name": "write_access_denied"}),
    # Reject (0x60), invoke 5: unrecognized-service (9)
    (bvlc("0a", "01 00" "60 05 09"), {"apdu_type_name": "reject", "reason": 9,
                                      "reason_name": "unrecognized_service"}),
    # Abort (0x71, from the server), invoke 5: segmentation-not-supported (4)
    (bvlc("0a", "01 00" "71 05 04"), {"apdu_type_name": "abort", "server": True,
                                      "reason_name": "segmentation_not_supported"}),
    # SegmentACK (0x40), invoke 7, sequence 2, window 4
    (bvlc("0a", "01 00" "40 07 02 04"), {"apdu_type_name": "segment_ack", "invoke_id": 7,
                                         "sequence_number": 2, "window_size": 4}),
    # second segment (sequence 1) of a ComplexACK: no service parameters at its head
    (bvlc("0a", "01 00" "3c 09 01 04 0c" "55 66 77"), {
        "segmented": True, "more_follows": True, "sequence_number": 1, "service": 12}),
    # Forwarded-NPDU from 192.168.0.1:47808 carrying a Who-Is
    (bvlc("04", "c0a80001 bac0" "01 00 10 08"), {
        "bvlc_function_name": "forwarded_npdu", "bvlc_address": "192.168.0.1:47808",
        "service_name": "who_is"}),
    # Register-Foreign-Device, TTL 60 s; BVLC-Result NAK of a registration
    (bvlc("05", "003c"), {"bvlc_function_name": "register_foreign_device", "bvlc_ttl": 60}),
    (bvlc("00", "0030"), {"bvlc_result": 0x30, "bvlc_result_name": "register_foreign_device_nak"}),
    # network layer message (control 0x80): Who-Is-Router-To-Network
    (bvlc("0b", "01 80 00"), {"npdu": {"version": 1, "control": 0x80, "expecting_reply": False,
                                       "priority": 0, "network_message": 0,
                                       "network_message_name": "who_is_router_to_network"}}),
    # routed from network 5, MAC 0x0a: control 0x08 (SNET), SNET 5, SLEN 1, SADR 0a
    (bvlc("0a", "01 08 0005 01 0a" "10 08"), {"service_name": "who_is"}),
]


def fields_of(hexdump: str) -> dict:
    raw = bytes.fromhex(hexdump)
    result = bacnet.parse_pdu(raw, True)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    fields = bacnet.to_event(result.pdu)
    event = {"@timestamp": "2024-01-01T00:00:00.000000Z", "event": {
        "id": "x", "kind": "event", "dataset": "bacnet"}, "observer": {"name": "t"}} | fields
    assert validate(event) == []
    return fields["bacnet"]


@pytest.mark.parametrize(("hexdump", "expected"), CASES)
def test_messages_decode_to_their_fields(hexdump: str, expected: dict) -> None:
    fields = fields_of(hexdump)
    assert fields | expected == fields
    assert "anomaly" not in fields


def test_routed_source_is_reported() -> None:
    npdu = fields_of(bvlc("0a", "01 08 0005 01 0a" "10 08"))["npdu"]
    assert (npdu["source_network"], npdu["source_address"]) == (5, "0a")


def test_reinitialize_device_says_a_password_was_sent_but_never_logs_it() -> None:
    # ReinitializeDevice warmstart (1), [1] password: charset 0 + "s3cret"
    hexdump = bvlc("0a", "01 04" "00 05 05 14" "09 01 1d 07 00 733363726574")
    fields = fields_of(hexdump)
    assert fields | {"service_name": "reinitialize_device", "reinitialize_state": 1,
                     "reinitialize_state_name": "warmstart", "password_present": True} == fields
    assert "s3cret" not in repr(fields)


def test_a_bvlc_length_that_disagrees_with_the_datagram_is_flagged() -> None:
    raw = bytes.fromhex("810a 0011" "01 00 10 08")      # says 17 bytes, the datagram has 8
    result = bacnet.parse_pdu(raw, True)
    assert isinstance(result, Parsed) and result.consumed == 8
    assert bacnet.to_event(result.pdu)["bacnet"]["anomaly"] == "bacnet_bvlc_length_mismatch"


def test_a_truncated_apdu_is_flagged() -> None:
    fields = fields_of(bvlc("0a", "01 04" "00 05 01 0c" "0c 0000"))   # object id cut short
    assert fields["anomaly"] == "bacnet_truncated"
    assert fields["service_name"] == "read_property"


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("81", NeedMore(4)),
    ("820a 0008 0100 1008", Malformed(bacnet.Anomaly.BAD_BVLC_TYPE)),   # not BACnet/IP
    ("810a 0003 0100 1008", Malformed(bacnet.Anomaly.BAD_BVLC_LENGTH)),  # shorter than header
])
def test_incomplete_and_malformed(hexdump: str, outcome: object) -> None:
    assert bacnet.parse_pdu(bytes.fromhex(hexdump), True) == outcome


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("810b 0008 0100 1008", True),
    ("8140 0008 0100 1008", False),        # unknown BVLC function
    ("4500 0008", False),                  # something else on 47808
    ("810b", None),
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert bacnet.probe(bytes.fromhex(hexdump)) is verdict
