"""Diameter events agree with tshark's ``diameter`` layer on every public capture with Diameter.

Per frame, each message's command, application, R flag, hop-by-hop and end-to-end ids,
Result-Code, Experimental-Result-Code, Session-Id and Origin-Host (and User-Name on requests:
answers inherit their request's) must be the same.

Where tshark's TCP sequence analysis calls a segment a retransmission it does not dissect it; the
sensor delivers each byte once, in order, so it reports those messages. Such a message is
tolerated only when tshark itself finds it in that frame once sequence analysis is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import diameter
from tests.utils.oracle import (
    Agreement,
    Key,
    TsharkPdu,
    event_stream,
    impaired_streams,
    in_parallel,
    needs_tshark,
    tshark_pdus,
)
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark


CAPTURES = captures_with("diameter")
TOLERATED: dict[tuple[str, int], str] = {}
RETRANSMISSION = ("tshark's sequence analysis takes this segment for a (spurious) "
                  "retransmission (the capture starts mid-connection) and does not dissect it; "
                  "with sequence analysis off tshark decodes the same message here")


def tshark_key(pdu: TsharkPdu) -> Key:
    is_request = pdu.first("diameter.flags.request") == "1"
    return (pdu.int("diameter.cmd.code"), pdu.int("diameter.applicationId"), is_request,
            pdu.int("diameter.hopbyhopid"), pdu.int("diameter.endtoendid"),
            pdu.int("diameter.Result-Code"), pdu.int("diameter.Experimental-Result-Code"),
            pdu.first("diameter.Session-Id"), pdu.first("diameter.Origin-Host"),
            pdu.first("diameter.User-Name") if is_request else None)


def event_key(event: dict[str, Any]) -> Key:
    d = event["diameter"]
    return (d["command_code"], d["application_id"], d["is_request"], d["hop_by_hop_id"],
            d["end_to_end_id"], d.get("result_code"), d.get("experimental_result_code"),
            d.get("session_id"), d.get("origin_host"),
            d.get("user_name") if d["is_request"] else None)


def _compare(path: Path) -> tuple[list, list, list, dict[tuple[str, int], str]]:
    events = run_sensor(path, analyzers=diameter.ANALYZERS)
    ours = [e for e in events if e["event"]["dataset"] == "diameter"]
    theirs = [(p.frame, tshark_key(p)) for p in tshark_pdus(path, "diameter")]
    mine = [(e["pcap"]["frame"], event_key(e)) for e in ours]
    return theirs, mine, events, _retransmitted(path, ours, theirs)


def _retransmitted(path: Path, ours: list[dict[str, Any]], theirs: list
                   ) -> dict[tuple[str, int], str]:
    """Our messages on impaired streams that tshark finds only with sequence analysis off."""
    impaired = impaired_streams(path)
    suspects = {(e["pcap"]["frame"], event_key(e)) for e in ours
                if event_stream(e) in impaired} - set(theirs)
    if not suspects:
        return {}
    every_segment = {(p.frame, tshark_key(p)) for p in
                     tshark_pdus(path, "diameter", "-o", "tcp.analyze_sequence_numbers:FALSE")}
    return {(path.name, frame): RETRANSMISSION for frame, key in suspects & every_segment}


@pytest.fixture(scope="module")
def compared() -> tuple[Agreement, dict[tuple[str, int], str], list[dict[str, Any]]]:
    agreement, tolerated, events = Agreement("diameter"), dict(TOLERATED), []
    for path, (theirs, mine, evs, retransmitted) in zip(
            CAPTURES, in_parallel(_compare, CAPTURES), strict=True):
        agreement.add(path.name, theirs, mine)
        tolerated |= retransmitted
        events += evs
    return agreement, tolerated, events


def test_the_manifest_lists_the_diameter_captures() -> None:
    assert len(CAPTURES) >= 4


def test_diameter_messages_agree_with_tshark(compared) -> None:
    agreement, tolerated, _ = compared
    print(agreement.report(tolerated))
    assert agreement.tshark > 0
    assert agreement.ratio >= 0.995
    assert agreement.unexplained(tolerated) == []


def test_every_event_of_the_captures_validates(compared) -> None:
    _, _, events = compared
    problems = [(e["pcap"]["frame"], validate(e)) for e in events if validate(e)]
    assert problems == []
