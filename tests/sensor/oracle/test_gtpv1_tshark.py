"""GTPv1-C events agree with tshark's dissection on every public capture that carries GTPv1-C.

Per message the key is the message type, the TEID, the sequence number (when the S flag is set),
the cause, the IMSI, the MSISDN, the IMEI(SV), the APN, the NSAPI, the data and control TEIDs and
the GSN addresses. tshark's ``gtp`` layer also covers GTPv0 (TS 09.60) and G-PDUs, which are not
GTPv1-C: the comparison takes version 1 signalling off the GTP-U port, and counts GTPv0 apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from tests.utils.oracle import Agreement, Key, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark

GTPV1_C = ("gtp.flags.version == 1 and gtp.flags.payload == 1 and gtp.message != 255 "
           "and not udp.port == 2152")
GTPV0 = "gtp.flags.version == 0"


CAPTURES = captures_with("gtpv1-c")

TOLERATED: dict[tuple[str, int], str] = {}


def their_key(pdu: TsharkPdu) -> Key:
    sequence = pdu.int("gtp.seq_number") if pdu.first("gtp.flags.s") == "1" else None
    return (pdu.int("gtp.message"), pdu.int("gtp.teid"), sequence, pdu.int("gtp.cause"),
            pdu.first("e212.imsi"), pdu.first("e164.msisdn"), pdu.first("gtp.ext_imeisv"),
            pdu.first("gtp.apn"), pdu.int("gtp.nsapi"), pdu.int("gtp.teid_data"),
            pdu.int("gtp.teid_cp"), tuple(pdu.fields.get("gtp.gsn_ipv4", [])))


def our_key(event: dict[str, Any]) -> Key:
    g = event["gtpv1"]
    return (g["message_type"], g["teid"], g.get("sequence"), g.get("cause"), g.get("imsi"),
            g.get("msisdn"), g.get("imei"), g.get("apn"), g.get("nsapi"), g.get("teid_data"),
            g.get("teid_control"), tuple(a for a in g.get("gsn_addresses", []) if "." in a))


def compare(path: Path) -> tuple[str, list[tuple[int, Key]], list[tuple[int, Key]], list[str],
                                 int]:
    events = run_sensor(path)
    ours = [(e["pcap"]["frame"], our_key(e)) for e in events if e["event"]["dataset"] == "gtpv1"]
    theirs = [(p.frame, their_key(p)) for p in tshark_pdus(path, "gtp", display_filter=GTPV1_C)]
    problems = [f"{path.name}: {problem}" for e in events for problem in validate(e)]
    version_0 = len(tshark_pdus(path, "gtp", display_filter=GTPV0))
    return path.name, theirs, ours, problems, version_0


@pytest.fixture(scope="module")
def agreement() -> tuple[Agreement, list[str], int]:
    assert len({p.name for p in CAPTURES}) == len(CAPTURES)
    result, problems, version_0 = Agreement("gtpv1"), [], 0
    for name, theirs, ours, invalid, v0 in in_parallel(compare, CAPTURES):
        result.add(name, theirs, ours)
        problems += invalid
        version_0 += v0
    return result, problems, version_0


def test_the_manifest_lists_the_gtpv1_captures() -> None:
    assert len(CAPTURES) == 7


def test_gtpv1_events_agree_with_tshark(agreement) -> None:
    result, _, version_0 = agreement
    print(result.report(TOLERATED))
    print(f"GTPv0 messages tshark decodes and the GTPv1-C analyzer leaves alone: {version_0}")
    assert result.tshark >= 40
    assert result.ratio >= 0.995
    assert result.unexplained(TOLERATED) == []


def test_every_gtpv1_event_is_schema_valid(agreement) -> None:
    assert agreement[1] == []
