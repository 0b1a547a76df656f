"""PFCP messages from annotated bytes: headers, IEs, grouped rules, flow state, malformed input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaowang.schema import validate
from sensor.analyzers import pfcp
from sensor.analyzers.base import Malformed, NeedMore, Parsed

HEARTBEAT_REQUEST = (
    # ver=1 type=1 length=12 seq=1    spare
    "20      01     000c      000001 00"
    # Recovery Time Stamp (96), 4 octets of NTP seconds
    "0060 0004 e5d1a1c0"
)
ASSOCIATION_SETUP_RESPONSE = (
    # ver=1 type=6 length=32 seq=2 spare
    "20 06 0020 000002 00"
    # Node ID (60): type 0 (IPv4) 10.0.0.1
    "003c 0005 00 0a000001"
    # Cause (19): 1 request accepted
    "0013 0001 01"
    # Recovery Time Stamp (96)
    "0060 0004 e5d1a1c0"
    # UP Function Features (43): octet 5 = BUCP|FTUP, octet 6 = PDIU
    "002b 0002 11 02"
)
ASSOCIATION_SETUP_REQUEST = (
    # ver=1 type=5 length=26 seq=3 spare
    "20 05 001a 000003 00"
    # Node ID (60): type 2 (FQDN) "smf.example" as DNS labels
    "003c 000d 02 03 736d66 07 6578616d706c65"
    # CP Function Features (89): LOAD|EPFAR
    "0059 0001 05"
)
FLOW_DESCRIPTION = b"permit out ip from any to assigned".hex()
SESSION_ESTABLISHMENT_REQUEST = (
    # ver=1 S=1 type=50 length=204 SEID=0             seq=4  spare
    "21         32      00cc      0000000000000000 000004 00"
    # Node ID (60): IPv4 10.0.0.2
    "003c 0005 00 0a000002"
    # F-SEID (57): flags V4, SEID 1, 10.0.0.2
    "0039 000d 02 0000000000000001 0a000002"
    # Create PDR (1), 100 octets
    "0001 0064"
    #   PDR ID (56): 1
    "   0038 0002 0001"
    #   Precedence (29): 255
    "   001d 0004 000000ff"
    #   PDI (2), 74 octets
    "   0002 004a"
    #     Source Interface (20): 0 access
    "     0014 0001 00"
    #     F-TEID (21): flags V4|CH (the user plane chooses the TEID)
    "     0015 0001 05"
    #     Network Instance (22): "internet" as one DNS label
    "     0016 0009 08 696e7465726e6574"
    #     UE IP Address (93): flags V4, 10.45.0.2
    "     005d 0005 02 0a2d0002"
    #     SDF Filter (23): flags FD, spare, length 34, flow description
    "     0017 0026 01 00 0022" + FLOW_DESCRIPTION +
    #   FAR ID (108): 1
    "   006c 0004 00000001"
    # Create FAR (3), 58 octets
    "0003 003a"
    #   FAR ID (108): 1
    "   006c 0004 00000001"
    #   Apply Action (44): FORW|DUPL, second octet empty
    "   002c 0002 12 00"
    #   Forwarding Parameters (4), 19 octets
    "   0004 0013"
    #     Destination Interface (42): 1 core
    "     002a 0001 01"
    #     Outer Header Creation (84): GTP-U/UDP/IPv4, TEID 0x1234, 10.0.0.3
    "     0054 000a 0100 00001234 0a000003"
    #   Duplicating Parameters (5), 17 octets
    "   0005 0011"
    #     Destination Interface (42): 4 LI function
    "     002a 0001 04"
    #     Outer Header Creation (84): UDP/IPv4, 192.168.0.1 port 2152
    "     0054 0008 0400 c0a80001 0868"
)
SESSION_MODIFICATION_REQUEST = (
    # ver=1 S=1 type=52 length=69 SEID=1 seq=5 spare
    "21 34 0045 0000000000000001 000005 00"
    # Remove PDR (15) > PDR ID (56): 2
    "000f 0006 0038 0002 0002"
    # Update FAR (10), 43 octets
    "000a 002b"
    #   FAR ID (108): 2
    "   006c 0004 00000002"
    #   Apply Action (44): FORW (one octet)
    "   002c 0001 02"
    #   Update Forwarding Parameters (11) > Redirect Information (38):
    #   type 2 (URL), length 19, "http://evil.example"
    "   000b 001a 0026 0016 02 0013 687474703a2f2f6576696c2e6578616d706c65"
)
SESSION_REPORT_REQUEST = (
    # ver=1 S=1 type=56 length=73 SEID=1 seq=6 spare
    "21 38 0049 0000000000000001 000006 00"
    # Report Type (39): USAR
    "0027 0001 02"
    # Usage Report (80), 52 octets
    "0050 0034"
    #   URR ID (81): 1
    "   0051 0004 00000001"
    #   UR-SEQN (104): 3
    "   0068 0004 00000003"
    #   Usage Report Trigger (63): VOLTH
    "   003f 0003 02 00 00"
    #   Volume Measurement (66): TOVOL|ULVOL|DLVOL, 1000 / 400 / 600 octets
    "   0042 0019 07 00000000000003e8 0000000000000190 0000000000000258"
)
SESSION_ESTABLISHMENT_REJECTED = (
    # ver=1 S=1 type=51 length=32 SEID=1 seq=4 spare
    "21 33 0020 0000000000000001 000004 00"
    # Node ID (60): IPv4 10.0.0.1
    "003c 0005 00 0a000001"
    # Cause (19): 73 rule creation/modification failure
    "0013 0001 49"
    # Offending IE (40): 3 (Create FAR)
    "0028 0002 0003"
)
SESSION_DELETION_WITH_PRIORITY = (
    # ver=1 MP=1 S=1 type=54 length=12 SEID=7 seq=8 priority 5 in the high nibble
    "23 36 000c 0000000000000007 000008 50"
)

CASES: list[tuple[str, dict[str, Any]]] = [
    (HEARTBEAT_REQUEST, {
        "version": 1, "message_type": 1, "message_type_name": "heartbeat_request",
        "is_request": True, "sequence": 1, "length": 12, "follow_on": False,
        "recovery_time_stamp": "2022-03-08T09:34:56Z"}),
    (ASSOCIATION_SETUP_RESPONSE, {
        "message_type": 6, "is_request": False, "node_id": "10.0.0.1", "node_id_type": 0,
        "node_id_type_name": "ipv4", "cause": 1, "cause_name": "request_accepted",
        "up_function_features": ["BUCP", "FTUP", "PDIU"]}),
    (ASSOCIATION_SETUP_REQUEST, {
        "message_type": 5, "node_id": "smf.example", "node_id_type_name": "fqdn",
        "cp_function_features": ["LOAD", "EPFAR"]}),
    (SESSION_ESTABLISHMENT_REQUEST, {
        "message_type": 50, "seid": 0, "sequence": 4, "node_id": "10.0.0.2",
        "f_seid": {"seid": 1, "ip": ["10.0.0.2"]},
        "create_pdr": {"pdr_id": [1], "precedence": [255], "far_id": [1]},
        "pdi": {"source_interface": [0], "source_interface_name": ["access"],
                "f_teid_choose": [True], "network_instance": ["internet"],
                "ue_ip": ["10.45.0.2"],
                "flow_description": ["permit out ip from any to assigned"]},
        "create_far": {"far_id": [1], "apply_action": [0x12],
                       "apply_action_names": ["FORW", "DUPL"]},
        "forwarding": {"destination_interface": [1], "destination_interface_name": ["core"],
                       "outer_header_creation": [0x0100],
                       "outer_header_creation_names": ["GTP-U/UDP/IPv4"],
                       "outer_header_teid": [0x1234], "outer_header_ip": ["10.0.0.3"]},
        "duplicating": {"destination_interface_name": ["li_function"],
                        "outer_header_creation_names": ["UDP/IPv4"],
                        "outer_header_ip": ["192.168.0.1"], "outer_header_port": [2152]}}),
    (SESSION_MODIFICATION_REQUEST, {
        "message_type": 52, "seid": 1, "remove_pdr": {"pdr_id": [2]},
        "update_far": {"far_id": [2], "apply_action_names": ["FORW"]},
        "forwarding": {"redirect_address_type": [2], "redirect_address_type_name": ["url"],
                       "redirect_address": ["http://evil.example"]}}),
    (SESSION_REPORT_REQUEST, {
        "message_type": 56, "report_type": ["USAR"],
        "usage_report": {"urr_id": [1], "ur_seqn": [3], "usage_report_trigger": ["VOLTH"],
                         "total_volume": [1000], "uplink_volume": [400],
                         "downlink_volume": [600]}}),
    (SESSION_ESTABLISHMENT_REJECTED, {
        "message_type": 51, "cause": 73, "cause_name": "rule_creation_modification_failure",
        "offending_ie": 3}),
    (SESSION_DELETION_WITH_PRIORITY, {"message_type": 54, "seid": 7, "sequence": 8,
                                      "priority": 5}),
]


def parsed(hexdump: str, to_server: bool = True) -> Parsed:
    result = pfcp.parse_pdu(bytes.fromhex(hexdump), to_server)
    assert isinstance(result, Parsed), result
    return result


def contains(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Whether ``actual`` holds every field of ``expected``, nested objects included."""
    return all((isinstance(value, dict) and isinstance(actual.get(name), dict)
               and contains(actual[name], value)) or actual.get(name) == value
               for name, value in expected.items())


def whole_event(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields an analyzer returns, with what the engine adds (a weird keeps its dataset)."""
    dataset = fields.get("event", {}).get("dataset", "pfcp")
    return {"@timestamp": "2024-01-01T00:00:00.000000Z", "observer": {"name": "test"}} | \
        fields | {"event": {"id": "1", "kind": "event", "dataset": dataset}}


@pytest.mark.parametrize(("hexdump", "expected"), CASES, ids=lambda c: str(c)[:12])
def test_messages_decode_to_their_fields(hexdump: str, expected: dict[str, Any]) -> None:
    result = parsed(hexdump)
    assert result.consumed == len(bytes.fromhex(hexdump))
    assert result.pdu.anomalies == ()
    (event,) = pfcp.to_event(result.pdu, None)
    assert contains(event["pfcp"], expected)
    assert validate(whole_event(event)) == []


def test_follow_on_messages_in_one_datagram_are_taken_one_at_a_time() -> None:
    datagram = bytes.fromhex(
        # FO=1 heartbeat response, seq 1, Recovery Time Stamp
        "24 02 000c 000001 00 0060 0004 e5d1a1c0"
        # FO=0 heartbeat response, seq 2, Recovery Time Stamp
        "20 02 000c 000002 00 0060 0004 e5d1a1c0")
    first = pfcp.parse_pdu(datagram, False)
    assert isinstance(first, Parsed) and first.consumed == 16 and first.pdu.follow_on
    second = pfcp.parse_pdu(datagram[first.consumed:], False)
    assert isinstance(second, Parsed) and second.consumed == 16
    assert (second.pdu.sequence, second.pdu.follow_on) == (2, False)


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("20 01", NeedMore(4)),                                           # header cut short
    ("20 01 000c 000001 00 0060", NeedMore(16)),                      # body cut short
    ("40 01 0004 000001 00", Malformed(pfcp.Anomaly.BAD_VERSION)),    # version 2
    ("21 32 0008 0000000000000000", Malformed(pfcp.Anomaly.BAD_LENGTH)),  # S=1 needs 12
    ("20 01 0002 0000", Malformed(pfcp.Anomaly.BAD_LENGTH)),          # no room for seq
])
def test_incomplete_and_malformed_headers(hexdump: str, outcome: object) -> None:
    assert pfcp.parse_pdu(bytes.fromhex(hexdump), True) == outcome


@pytest.mark.parametrize(("hexdump", "anomaly", "kept"), [
    # Recovery Time Stamp claims 8 octets, 4 remain
    ("20 01 000c 000001 00 0060 0008 e5d1a1c0", pfcp.Anomaly.IE_OVERRUN, {}),
    # Node ID type IPv4 with a 3-octet address, then a good Cause
    ("20 06 0011 000001 00 003c 0004 00 0a0000 0013 0001 01", pfcp.Anomaly.IE_TOO_SHORT,
     {"cause": 1}),
    # Create PDR nested five deep
    ("21 32 0020 0000000000000001 000001 00 0001 0010 0001 000c 0001 0008 0001 0004 0001 0000",
     pfcp.Anomaly.NESTING_TOO_DEEP, {"seid": 1}),
    # a heartbeat (a node message) with the S flag and a SEID
    ("21 01 000c 0000000000000009 000001 00", pfcp.Anomaly.SEID_FLAG_MISMATCH, {"seid": 9}),
    # a Session Deletion Request without the S flag
    ("20 36 0004 000001 00", pfcp.Anomaly.SEID_FLAG_MISMATCH, {"message_type": 54}),
])
def test_odd_but_decodable_messages_carry_anomalies(hexdump: str, anomaly: str,
                                                    kept: dict[str, Any]) -> None:
    result = parsed(hexdump)
    assert result.pdu.anomalies == (anomaly,)
    event, weird = pfcp.to_event(result.pdu, None)
    assert event["pfcp"]["anomalies"] == [anomaly]
    assert contains(event["pfcp"], kept)
    assert weird == {"event": {"dataset": "weird"}, "network": {"protocol": "pfcp"},
                     "weird": {"name": anomaly, "analyzer": "pfcp"}}
    assert validate(whole_event(event)) == validate(whole_event(weird)) == []


@pytest.mark.parametrize(("hexdump", "verdict"), [
    (HEARTBEAT_REQUEST, True),
    ("20 63 000c 000001 00 0060 0004 e5d1a1c0", False),   # message type 99 is not PFCP
    ("40 01 000c 000001 00 0060 0004 e5d1a1c0", False),   # version 2
    ("20 01 00ff 000001 00 0060 0004 e5d1a1c0", False),   # longer than the datagram
    ("32 01 0000", False),                                # a GTPv1 echo on 8805
    ("20 01", None),                                      # too short to tell
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert pfcp.probe(bytes.fromhex(hexdump)) is verdict


# ---------------------------------------------------------------- flow state

SESSION_DELETION = "21 36 000c 0000000000000001 0000{seq:02x} 00"
ASSOCIATION_RELEASE_RESPONSE = "20 0a 0009 000007 00 0013 0001 01"


def replay(state: pfcp.FlowState, *messages: tuple[str, bool]) -> list[dict[str, Any]]:
    events = []
    for hexdump, to_server in messages:
        events += pfcp.to_event(parsed(hexdump, to_server).pdu, state)
    return events


def test_association_state_follows_setup_and_release() -> None:
    state = pfcp.FlowState()
    events = replay(
        state,
        (SESSION_DELETION.format(seq=1), True),                # before any association
        (ASSOCIATION_SETUP_REQUEST, True),
        (ASSOCIATION_SETUP_RESPONSE.replace("000002", "000003", 1), False),
        (SESSION_DELETION.format(seq=2), True),
        (ASSOCIATION_RELEASE_RESPONSE, False),
        (SESSION_DELETION.format(seq=3), True),
    )
    seen = [(e["pfcp"]["association"], e["pfcp"].get("without_association")) for e in events]
    assert seen == [("none", True), ("none", None), ("established", None),
                    ("established", False), ("released", True), ("released", True)]
    assert all(validate(whole_event(e)) == [] for e in events)


def test_a_rejected_setup_establishes_nothing() -> None:
    rejected = ASSOCIATION_SETUP_RESPONSE.replace("0013 0001 01", "0013 0001 40")
    (event,) = replay(pfcp.FlowState(), (rejected, False))
    assert (event["pfcp"]["cause_name"], event["pfcp"]["association"]) == \
        ("request_rejected", "none")


def test_responses_name_their_request_by_sequence_and_direction() -> None:
    state = pfcp.FlowState()
    request, other_side, response = replay(
        state,
        (SESSION_ESTABLISHMENT_REQUEST, True),
        ("20 02 000c 000004 00 0060 0004 e5d1a1c0", True),      # same seq, other direction
        (SESSION_ESTABLISHMENT_REJECTED, False),
    )
    assert "request_message_type" not in request["pfcp"]
    assert "request_message_type" not in other_side["pfcp"]
    assert response["pfcp"]["request_message_type"] == 50
    assert response["pfcp"]["request_message_type_name"] == "session_establishment_request"
    assert state.pending == {}


def test_a_repeated_request_is_a_retransmission() -> None:
    first, again = replay(pfcp.FlowState(), (HEARTBEAT_REQUEST, True), (HEARTBEAT_REQUEST, True))
    assert "retransmission" not in first["pfcp"]
    assert again["pfcp"]["retransmission"] is True


def test_unanswered_requests_are_bounded() -> None:
    state = pfcp.FlowState()
    events = replay(state, *[(SESSION_DELETION.format(seq=n), True)
                             for n in range(pfcp.MAX_PENDING + 1)])
    assert len(state.pending) == pfcp.MAX_PENDING
    assert [e["weird"]["name"] for e in events if "weird" in e] == [pfcp.Anomaly.FLOODED]


def test_user_identities_are_declared_subscriber_ids() -> None:
    message = (
        # ver=1 S=1 type=50 length=31 SEID=0 seq=1 spare
        "21 32 001f 0000000000000000 000001 00"
        # User ID (141): flags IMSIF, length 8, IMSI 001010123456789 in TBCD (low nibble first)
        "008d 000a 01 08 00 01 01 21 43 65 87 f9"
        # PDN Type (113): 1 IPv4
        "0071 0001 01"
    )
    (event,) = pfcp.to_event(parsed(message).pdu, None)
    assert event["pfcp"]["user_id"] == {"imsi": "001010123456789"}
    assert event["pfcp"]["pdn_type_name"] == "ipv4"
    assert validate(whole_event(event)) == []


def _ie(ie_type: int, value: bytes) -> bytes:
    return ie_type.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


KNOWN_TYPES = sorted(set(pfcp.LEAVES) | set(pfcp.GROUPS))
leaf_ies = st.builds(_ie, st.sampled_from(KNOWN_TYPES), st.binary(max_size=40))
grouped_ies = st.builds(lambda t, children: _ie(t, b"".join(children)),
                        st.sampled_from(sorted(pfcp.GROUPS)), st.lists(leaf_ies, max_size=6))


@settings(max_examples=300, deadline=None)
@given(ies=st.lists(st.one_of(leaf_ies, grouped_ies), max_size=8),
       message_type=st.sampled_from(sorted(pfcp.MESSAGE_NAMES)), to_server=st.booleans())
def test_known_ies_with_random_values_make_schema_valid_events(
        ies: list[bytes], message_type: int, to_server: bool) -> None:
    body = bytes(8) + b"\x00\x00\x01\x00" + b"".join(ies)     # SEID, sequence 1, spare
    raw = bytes([0x21, message_type]) + len(body).to_bytes(2, "big") + body
    result = pfcp.parse_pdu(raw, to_server)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    for event in pfcp.to_event(result.pdu, pfcp.FlowState()):
        assert validate(whole_event(event)) == []
