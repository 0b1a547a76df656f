"""PFCP events agree with tshark's dissection on every public capture that carries PFCP.

Per message the key is the message type, the header SEID (when the S flag is set), the sequence
number, the message-level cause, the node id, and every PDR id and FAR id the message names
(sorted; FAR ids include the ones PDRs point to), then the recovery time stamp, the F-SEID's
SEID, the TEIDs of F-TEIDs and of outer header creations, the UE IPv4 addresses, and how many
times each Apply Action flag is set.

tshark also dissects the PFCP datagram an ICMP "port unreachable" error quotes back to its sender
(open5gs nodes start before their peers); that is not a message on the N4 flow, so the tshark side
leaves out PDUs inside ICMP errors. tshark prints the Remote GTP-U Peer address with the Node ID's
field names; a Node ID is read only where tshark saw a Node ID type.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers.pfcp import APPLY_ACTION_FLAGS
from tests.utils.oracle import Agreement, Key, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark


CAPTURES = captures_with("pfcp")
PDR_GROUPS = ("create_pdr", "update_pdr", "remove_pdr", "created_pdr", "downlink_data_report")
FAR_GROUPS = ("create_far", "update_far", "remove_far", "create_pdr", "update_pdr")
F_TEID_GROUPS = ("pdi", "created_pdr", "error_indication_report")
UE_IP_GROUPS = ("pdi", "created_pdr")
OUTER_GROUPS = ("forwarding", "duplicating")
ACTION_GROUPS = ("create_far", "update_far")
ACTIONS = " ".join(APPLY_ACTION_FLAGS).split()
TSHARK_TIME = "%b %d, %Y %H:%M:%S"

DISPLAY_FILTER = "pfcp and not icmp and not icmpv6"
# Captures compared on the header only (message type, SEID, sequence number), and why.
HEADER_ONLY = {
    "test__pcaps__pfcp.pcap": "scapy's PFCP test corpus puts random IEs inside random grouped "
    "IEs (a Cause in a Remove PDR, a PDR ID in Aggregated URRs); tshark's flattened fields mix "
    "those with the message-level ones, which Liaowang alone reports",
}

TOLERATED: dict[tuple[str, int], str] = {}


def their_key(pdu: TsharkPdu) -> Key:
    seids = [int(v, 0) for v in pdu.fields.get("pfcp.seid", [])]
    header_seid = seids.pop(0) if pdu.first("pfcp.s") == "1" else None
    return (pdu.int("pfcp.msg_type"), header_seid, pdu.int("pfcp.seqno"),
            pdu.int("pfcp.cause"), _their_node_id(pdu), _ids(pdu, "pfcp.pdr_id"),
            _ids(pdu, "pfcp.far_id"), _their_time(pdu.first("pfcp.recovery_time_stamp")),
            seids[0] if seids else None, _ids(pdu, "pfcp.f_teid.teid"),
            _ids(pdu, "pfcp.outer_hdr_creation.teid"),
            tuple(sorted(pdu.fields.get("pfcp.ue_ip_addr_ipv4", []))),
            tuple(pdu.fields.get(f"pfcp.apply_action.{name.lower()}", []).count("1")
                  for name in ACTIONS))


def _their_time(text: str | None) -> str | None:
    if text is None:
        return None
    if text == "NULL":                 # how tshark prints the Unix epoch (NTP 2208988800)
        return "1970-01-01T00:00:00Z"
    seconds = " ".join(text.split()).split(".")[0]
    return datetime.strptime(seconds, TSHARK_TIME).strftime("%Y-%m-%dT%H:%M:%SZ")


def _their_node_id(pdu: TsharkPdu) -> str | None:
    if pdu.first("pfcp.node_id_type") is None:
        return None
    return pdu.first("pfcp.node_id_ipv4") or pdu.first("pfcp.node_id_ipv6") or \
        pdu.first("pfcp.node_id_fqdn")


def our_key(event: dict[str, Any]) -> Key:
    pf = event["pfcp"]
    actions = [n for group in ACTION_GROUPS
               for n in pf.get(group, {}).get("apply_action_names", [])]
    return (pf["message_type"], pf.get("seid"), pf["sequence"], pf.get("cause"),
            pf.get("node_id"), _gathered(pf, PDR_GROUPS, "pdr_id"),
            _gathered(pf, FAR_GROUPS, "far_id"), pf.get("recovery_time_stamp"),
            pf.get("f_seid", {}).get("seid"), _gathered(pf, F_TEID_GROUPS, "f_teid"),
            _gathered(pf, OUTER_GROUPS, "outer_header_teid"),
            tuple(sorted(ip for ip in _listed(pf, UE_IP_GROUPS, "ue_ip") if ":" not in ip)),
            tuple(actions.count(name) for name in ACTIONS))


def their_header(pdu: TsharkPdu) -> Key:
    seid = pdu.int("pfcp.seid") if pdu.first("pfcp.s") == "1" else None
    return pdu.int("pfcp.msg_type"), seid, pdu.int("pfcp.seqno")


def our_header(event: dict[str, Any]) -> Key:
    return event["pfcp"]["message_type"], event["pfcp"].get("seid"), event["pfcp"]["sequence"]


def _ids(pdu: TsharkPdu, name: str) -> tuple[int, ...]:
    return tuple(sorted(int(v, 0) for v in pdu.fields.get(name, [])))


def _listed(pfcp: dict[str, Any], groups: tuple[str, ...], leaf: str) -> list[Any]:
    return [value for group in groups for value in pfcp.get(group, {}).get(leaf, [])]


def _gathered(pfcp: dict[str, Any], groups: tuple[str, ...], leaf: str) -> tuple[int, ...]:
    return tuple(sorted(_listed(pfcp, groups, leaf)))


def compare(path: Path) -> tuple[str, list[tuple[int, Key]], list[tuple[int, Key]], list[str]]:
    events = run_sensor(path)
    our_fn, their_fn = (our_header, their_header) if path.name in HEADER_ONLY else \
        (our_key, their_key)
    ours = [(e["pcap"]["frame"], our_fn(e)) for e in events if e["event"]["dataset"] == "pfcp"]
    theirs = [(p.frame, their_fn(p))
              for p in tshark_pdus(path, "pfcp", display_filter=DISPLAY_FILTER)]
    problems = [f"{path.name}: {problem}" for e in events for problem in validate(e)]
    return path.name, theirs, ours, problems


@pytest.fixture(scope="module")
def agreement() -> tuple[Agreement, list[str]]:
    assert len({p.name for p in CAPTURES}) == len(CAPTURES)
    result, problems = Agreement("pfcp"), []
    for name, theirs, ours, invalid in in_parallel(compare, CAPTURES):
        result.add(name, theirs, ours)
        problems += invalid
    return result, problems


def test_the_manifest_lists_the_pfcp_captures() -> None:
    assert len(CAPTURES) == 16


def test_pfcp_events_agree_with_tshark(agreement) -> None:
    result, _ = agreement
    print(result.report(TOLERATED))
    assert result.tshark > 7000
    assert result.ratio >= 0.995
    assert result.unexplained(TOLERATED) == []


def test_every_pfcp_event_is_schema_valid(agreement) -> None:
    assert agreement[1] == []
