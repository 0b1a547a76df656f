"""EtherNet/IP encapsulation and CIP messages from annotated bytes, including malformed ones."""

from __future__ import annotations

import pytest

from liaowang.schema import validate
from sensor.analyzers import enip
from sensor.analyzers.base import Malformed, NeedMore, Parsed

HEADER_0 = "00000000 00000000 0000000000000000 00000000"   # session, status, context, options
SESSION = "11020100"                                          # session handle 0x00010211

REGISTER_SESSION = (
    "6500 0400 " + HEADER_0 +          # RegisterSession, length 4
    "0100 0000")                       # protocol version 1, options 0
LIST_IDENTITY_RESPONSE = (
    "6300 3000 " + HEADER_0 +          # ListIdentity, length 48
    "0100"                             # one CPF item
    "0c00 2a00"                        # CIP identity item, 42 bytes
    "0100"                             # encapsulation protocol version 1
    "0002 af12 c0a80001 0000000000000000"   # sockaddr: AF_INET, port 44818, 192.168.0.1
    "0100 0e00 3600"                   # vendor 1, device type 14 (PLC), product code 54
    "14 0b 6000"                       # revision 20.11, status 0x0060
    "78563412"                         # serial number 0x12345678
    "08 313735362d4c3631"              # product name "1756-L61"
    "03")                              # state 3
GET_ATTRIBUTE_SINGLE = (
    "6f00 1800 " + SESSION + "00000000 0102030405060708 00000000"   # SendRRData, length 24
    "00000000 0a00"                    # interface handle, timeout 10 s
    "0200 0000 0000"                   # two items: null address
    "b200 0800"                        # unconnected data, 8 bytes
    "0e 03 20 01 24 01 30 07")         # Get_Attribute_Single class 1 / instance 1 / attribute 7
UNCONNECTED_SEND = (
    "6f00 2400 " + SESSION + "00000000 1111111111111111 00000000"   # SendRRData, length 36
    "00000000 0a00 0200 0000 0000 b200 1400"
    "52 02 20 06 24 01"                # Unconnected Send to the Connection Manager
    "0a f0 0600"                       # tick time, timeout ticks, embedded message of 6 bytes
    "01 02 20 01 24 01"                # embedded: Get_Attributes_All identity instance 1
    "01 00 0100")                      # route path of 1 word, reserved, port 1 link 0
UNCONNECTED_SEND_REPLY = (
    "6f00 1600 " + SESSION + "00000000 1111111111111111 00000000"   # same sender context
    "00000000 0000 0200 0000 0000 b200 0600"
    "81 00 00 00 0100")                # Get_Attributes_All reply, success, 2 bytes of data
MSP_REQUEST = (
    "7000 3400 " + SESSION + "00000000 0000000000000000 00000000"   # SendUnitData, length 52
    "00000000 0000 0200"
    "a100 0400 010b7c00"               # connected address: connection id 0x007c0b01
    "b100 2000 0100"                   # connected data, 32 bytes, sequence count 1
    "0a 02 20 02 24 01"                # Multiple Service Packet to the Message Router
    "0200 0600 0e00"                   # two services at offsets 6 and 14
    "0e 03 20 01 24 01 30 01"          # Get_Attribute_Single 1/1/1
    "4c 03 91 03 546167 00 0100")      # Read Tag "Tag" (padded), 1 element
MSP_REPLY = (
    "7000 2c00 " + SESSION + "00000000 0000000000000000 00000000"   # SendUnitData, length 44
    "00000000 0000 0200 a100 0400 02000000"
    "b100 1800 0100"                   # connected data, 24 bytes, sequence count 1
    "8a 00 00 00 0200 0600 0c00"       # MSP reply, success, two replies at 6 and 12
    "8e 00 00 00 0100"                 # Get_Attribute_Single reply, success, value 1
    "cc 00 05 01 0401")                # Read Tag reply: path destination unknown, ext 0x0104
FORWARD_OPEN = (
    "6f00 4000 " + SESSION + "00000000 0000000000000000 00000000"   # SendRRData, length 64
    "00000000 0a00 0200 0000 0000 b200 3000"
    "54 02 20 06 24 01"                # Forward Open to the Connection Manager
    "0a 0e 11111111 22222222"          # tick, timeout, O->T and T->O connection ids
    "3412 0100 78563412"               # connection serial 0x1234, vendor 1, originator serial
    "03 000000"                        # timeout multiplier, reserved
    "a0860100 f843 a0860100 f843"      # O->T RPI 100 ms, parameters, T->O RPI, parameters
    "a3 03 0100 2002 2401")            # transport trigger, path: port 1 link 0, class 2, inst 1
IO_DATAGRAM = (
    "0200"                             # two items
    "0280 0800 03064b00 db943f00"      # sequenced address: connection 0x004b0603, seq 4166875
    "b100 0600 a587e80f0300")          # connected data, 6 bytes


def parsed(hexdump: str, to_server: bool = True, parse=enip.parse_tcp) -> enip.EnipPdu:
    raw = bytes.fromhex(hexdump)
    result = parse(raw, to_server)
    assert isinstance(result, Parsed)
    assert result.consumed == len(raw)
    return result.pdu


def event_of(pdu: enip.EnipPdu, state: enip.FlowState | None = None) -> dict:
    fields = enip.to_event(pdu, state or enip.new_state())
    event = {"@timestamp": "2024-01-01T00:00:00.000000Z", "event": {
        "id": "x", "kind": "event", "dataset": "enip"}, "observer": {"name": "t"}} | fields
    assert validate(event) == []
    return fields


CASES = [
    (REGISTER_SESSION, True, {"command": 101, "command_name": "register_session",
                              "protocol_version": 1, "session_handle": 0}, {}),
    (GET_ATTRIBUTE_SINGLE, True,
     {"command": 111, "session_handle": 0x00010211, "cpf_item_types": [0, 0xB2],
      "sender_context": "0102030405060708"},
     {"service": 14, "service_name": "get_attribute_single", "class_id": 1,
      "class_name": "identity", "instance_id": 1, "attribute_id": 7, "is_response": False}),
    (FORWARD_OPEN, True, {"command": 111},
     {"service": 0x54, "service_name": "forward_open", "connection": {
         "o_t_connection_id": 0x11111111, "t_o_connection_id": 0x22222222, "serial": 0x1234,
         "vendor_id": 1, "originator_serial": 0x12345678, "o_t_rpi": 100_000,
         "t_o_rpi": 100_000, "path": "port=1,link=0/class=0x2/instance=0x1"}}),
]


@pytest.mark.parametrize(("hexdump", "to_server", "enip_fields", "cip_fields"), CASES)
def test_pdus_decode_to_their_fields(hexdump, to_server, enip_fields, cip_fields) -> None:
    fields = event_of(parsed(hexdump, to_server))
    assert fields["enip"] | enip_fields == fields["enip"]
    assert fields.get("cip", {}) | cip_fields == fields.get("cip", {})


def test_list_identity_response_names_the_device() -> None:
    identity = event_of(parsed(LIST_IDENTITY_RESPONSE, False))["enip"]["identity"]
    assert identity == {
        "protocol_version": 1, "socket_address": "192.168.0.1", "socket_port": 44818,
        "vendor_id": 1, "vendor_name": "rockwell_automation", "device_type": 14,
        "device_type_name": "programmable_logic_controller", "product_code": 54,
        "revision": "20.11", "status": 0x60, "serial_number": "0x12345678",
        "product_name": "1756-L61", "state": 3}


def test_unconnected_send_is_unwrapped_and_its_reply_paired() -> None:
    state = enip.new_state()
    request = event_of(parsed(UNCONNECTED_SEND), state)["cip"]
    assert request | {"service": 1, "service_name": "get_attributes_all", "class_id": 1,
                      "unconnected_send": True, "route_port": 1, "route_link": "0"} == request
    reply = event_of(parsed(UNCONNECTED_SEND_REPLY, False), state)["cip"]
    assert reply | {"service": 1, "is_response": True, "general_status": 0,
                    "status_name": "success", "class_id": 1, "unconnected_send": True} == reply


def test_multiple_service_packet_lists_members_and_pairs_the_reply() -> None:
    state = enip.new_state()
    request = event_of(parsed(MSP_REQUEST), state)
    assert request["enip"]["connection_id"] == 0x007C0B01
    assert request["enip"]["cip_sequence"] == 1
    assert request["cip"]["msp"] == {
        "service": [0x0E, 0x4C], "service_name": ["get_attribute_single", "read_tag"],
        "path": ["class=0x1/instance=0x1/attribute=0x1", "Tag"]}
    reply = event_of(parsed(MSP_REPLY, False), state)["cip"]
    assert reply["msp"]["general_status"] == [0, 5]
    assert reply["msp"]["path"] == ["class=0x1/instance=0x1/attribute=0x1", "Tag"]


def test_error_reply_carries_extended_status() -> None:
    member = enip.decode_cip(bytes.fromhex("cc 00 05 01 0401"))
    fields = enip.message_fields(member, None)
    assert fields | {"service": 0x4C, "is_response": True, "general_status": 5,
                     "status_name": "path_destination_unknown",
                     "extended_status": [0x0104]} == fields


@pytest.mark.parametrize(("hexdump", "expected"), [
    ("20 6b 25 00 3412 30 07", {"class": 0x6B, "instance": 0x1234, "attribute": 7}),  # 8/16-bit
    ("20 02 26 00 78563412", {"class": 2, "instance": 0x12345678}),                    # 32-bit
    ("91 05 50726f673100 28 03", {"member": 3}),       # symbol "Prog1" (padded), member 3
])
def test_request_paths(hexdump: str, expected: dict) -> None:
    path = enip.decode_path(bytes.fromhex(hexdump))
    assert path.ids == expected and path.complete


def test_symbolic_path_with_members_reads_as_a_tag_name() -> None:
    path = enip.decode_path(bytes.fromhex("91 05 50726f673100 91 03 546167 00 28 03"))
    assert path.symbol == "Prog1.Tag[3]"


def test_io_datagram() -> None:
    fields = event_of(parsed(IO_DATAGRAM, parse=enip.parse_io))["enip"]
    assert fields | {"connection_id": 0x004B0603, "sequence": 4166875,
                     "io_data_length": 6} == fields
    assert "command" not in fields


def test_two_pdus_in_one_buffer_are_taken_one_at_a_time() -> None:
    raw = bytes.fromhex(REGISTER_SESSION + GET_ATTRIBUTE_SINGLE)
    first = enip.parse_tcp(raw, True)
    assert isinstance(first, Parsed) and first.consumed == 28
    second = enip.parse_tcp(raw[first.consumed:], True)
    assert isinstance(second, Parsed) and second.pdu.command == 0x6F


def test_a_pdu_split_across_segments_asks_for_the_rest() -> None:
    raw = bytes.fromhex(GET_ATTRIBUTE_SINGLE)
    assert enip.parse_tcp(raw[:10], True) == NeedMore(24)
    assert enip.parse_tcp(raw[:30], True) == NeedMore(48)
    assert isinstance(enip.parse_tcp(raw, True), Parsed)


@pytest.mark.parametrize(("hexdump", "parse", "outcome"), [
    ("6f00 ffff " + HEADER_0, enip.parse_tcp, Malformed(enip.Anomaly.INVALID_LENGTH)),
    (GET_ATTRIBUTE_SINGLE[:-8], enip.parse_udp, Malformed(enip.Anomaly.TRUNCATED_DATAGRAM)),
    ("6300 00", enip.parse_udp, Malformed(enip.Anomaly.TRUNCATED_DATAGRAM)),
    ("0200 0280 0800 03064b00", enip.parse_io, Malformed(enip.Anomaly.BAD_IO_ITEMS)),  # cut
    ("0100 0280 0800 03064b00 db943f00", enip.parse_io,                  # no data item
     Malformed(enip.Anomaly.BAD_IO_ITEMS)),
])
def test_malformed(hexdump: str, parse, outcome: Malformed) -> None:
    assert parse(bytes.fromhex(hexdump), True) == outcome


def test_items_overrunning_the_pdu_are_flagged_not_fatal() -> None:
    pdu = parsed("6f00 0a00 " + HEADER_0 + "00000000 0a00 0100 b200")   # item header cut short
    assert event_of(pdu)["enip"]["anomaly"] == "enip_cpf_truncated"


def test_truncated_cip_is_flagged() -> None:
    fields = enip.message_fields(enip.decode_cip(bytes.fromhex("0e 03 20 01")), None)
    assert fields["anomaly"] == "cip_truncated"


@pytest.mark.parametrize(("hexdump", "probe", "verdict"), [
    (REGISTER_SESSION, enip.probe, True),
    ("1603 0100 2e01 0000" + "00" * 20, enip.probe, False),    # TLS on 44818
    ("6500 0400", enip.probe, None),                           # too short to tell
    (IO_DATAGRAM, enip.probe_io, True),
    ("0100 b200 0600" + "00" * 12, enip.probe_io, False),
])
def test_probe(hexdump: str, probe, verdict: bool | None) -> None:
    assert probe(bytes.fromhex(hexdump)) is verdict


def test_pending_requests_are_bounded() -> None:
    state = enip.new_state()
    request = enip.decode_cip(bytes.fromhex("0e 03 20 01 24 01 30 07"))
    for key in range(enip.PENDING_LIMIT + 10):
        state.remember(key, request)
    assert len(state.pending) == enip.PENDING_LIMIT
