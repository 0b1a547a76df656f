"""GTPv2-C events agree with tshark's dissection on every public capture that carries GTPv2.

Per message (piggybacked ones included) the key is the message type, the header TEID (when the
T flag is set), the sequence number, the message-level cause, the IMSI, the MSISDN, the MEI, the
APN, the RAT type, the AMBR, the PAA's IPv4 address and the F-TEIDs of the message and its
bearer contexts (interface type and TEID, sorted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from tests.utils.oracle import Agreement, Key, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark


CAPTURES = captures_with("gtpv2")
PCPP_GTPV2 = "Tests__Packet++Test__PacketExamples__gtpv2.pcap"

TOLERATED: dict[tuple[str, int], str] = {
    (PCPP_GTPV2, 3): "GTPv2-C over TCP port 2123 (a test packet): TS 29.274 runs GTP-C over "
                     "UDP only, and Liaowang reads it on UDP only",
}


def their_key(pdu: TsharkPdu) -> Key:
    teid = pdu.int("gtpv2.teid") if pdu.first("gtpv2.t") == "1" else None
    fteids = zip(pdu.fields.get("gtpv2.f_teid_interface_type", []),
                 pdu.fields.get("gtpv2.f_teid_gre_key", []), strict=False)
    return (pdu.int("gtpv2.message_type"), teid, pdu.int("gtpv2.seq"), pdu.int("gtpv2.cause"),
            pdu.first("e212.imsi"), pdu.first("e164.msisdn"), pdu.first("gtpv2.mei"),
            pdu.first("gtpv2.apn"), pdu.int("gtpv2.rat_type"), pdu.int("gtpv2.ambr_up"),
            pdu.int("gtpv2.ambr_down"), pdu.first("gtpv2.pdn_addr_and_prefix.ipv4"),
            tuple(sorted((int(kind), int(key, 0)) for kind, key in fteids)))


def our_key(event: dict[str, Any]) -> Key:
    g = event["gtpv2"]
    fteid = g.get("fteid", {})
    pairs = zip(fteid.get("interface_type", []), fteid.get("teid", []), strict=True)
    ipv4 = [a for a in g.get("paa_address", []) if "." in a]
    return (g["message_type"], g.get("teid"), g["sequence"], g.get("cause"), g.get("imsi"),
            g.get("msisdn"), g.get("mei"), g.get("apn"), g.get("rat_type"),
            g.get("ambr_uplink"), g.get("ambr_downlink"), ipv4[0] if ipv4 else None,
            tuple(sorted(pairs)))


def compare(path: Path) -> tuple[str, list[tuple[int, Key]], list[tuple[int, Key]], list[str]]:
    events = run_sensor(path)
    ours = [(e["pcap"]["frame"], our_key(e)) for e in events if e["event"]["dataset"] == "gtpv2"]
    theirs = [(p.frame, their_key(p)) for p in tshark_pdus(path, "gtpv2")]
    problems = [f"{path.name}: {problem}" for e in events for problem in validate(e)]
    return path.name, theirs, ours, problems


@pytest.fixture(scope="module")
def agreement() -> tuple[Agreement, list[str]]:
    assert len({p.name for p in CAPTURES}) == len(CAPTURES)
    result, problems = Agreement("gtpv2"), []
    for name, theirs, ours, invalid in in_parallel(compare, CAPTURES):
        result.add(name, theirs, ours)
        problems += invalid
    return result, problems


def test_the_manifest_lists_the_gtpv2_captures() -> None:
    assert len(CAPTURES) == 12


def test_gtpv2_events_agree_with_tshark(agreement) -> None:
    result, _ = agreement
    print(result.report(TOLERATED))
    assert result.tshark > 500
    assert result.ratio >= 0.995
    assert result.unexplained(TOLERATED) == []


def test_every_gtpv2_event_is_schema_valid(agreement) -> None:
    assert agreement[1] == []
