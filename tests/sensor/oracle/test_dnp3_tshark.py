"""DNP3 events agree with tshark's ``dnp3`` layer on every public capture with DNP3.

Per frame, each link frame without user data is compared by its addresses, length, control
byte and link function, and each completed application fragment by the same link fields (of
the frame that completed it), the number of transport segments, the application control byte,
function code, internal indications and object headers (group/variation pairs). tshark shows
the application layer on the frame whose transport segment completed the fragment; link frames
that only carry part of a fragment are, as in the sensor, not compared.

Two limits of tshark 4.0 shape the object part of the key: it lists object headers only for the
functions in ``TSHARK_LISTS_OBJECTS`` (not for secure authentication, stop application, assign
class and others), and it does not know some objects (``TSHARK_UNKNOWN_OBJECTS``) and takes the
rest of the fragment as their data. So objects are compared only for those functions, and up to
the first object tshark does not know. It reads internal indications only in (unsolicited)
responses, not in authentication responses (function 131), so they are compared there only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import dnp3
from tests.utils.oracle import Agreement, Key, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark

CAPTURES = captures_with("dnp3")
SEQUENCE_WRAP = ("the response's segments run across the transport sequence wrap (FIR at 63, "
                 "FIN at 0); tshark does not join them and shows no application layer, the "
                 "sensor does (sequence numbers count modulo 64)")
NOT_USER_DATA = ("the link function ({}) is not (un)confirmed user data, so by IEEE 1815 the "
                 "frame carries no transport segment and a station ignores its data; tshark "
                 "decodes the data as a read request anyway, the sensor reports the link frame")
EXAMPLE = "testing__traces__dnp3_example.pcap"
CONFORMANCE = "pcaps__dnp3__opendnp3-3__conformance__{}__dump.pcap"
TOLERATED: dict[tuple[str, int], str] = {
    (EXAMPLE, 18): SEQUENCE_WRAP,
    (EXAMPLE, 114): SEQUENCE_WRAP,
    (EXAMPLE, 210): SEQUENCE_WRAP,
    (EXAMPLE, 810): SEQUENCE_WRAP,
    (EXAMPLE, 311): ("a single-segment response (transport c0: FIR, FIN, sequence 0) right "
                     "after sequence 63; across the wrap tshark reassembles it with an older "
                     "fragment and shows function 0, the sensor shows the response (c8 81)"),
    (CONFORMANCE.format("6.6.2.2"), 14): NOT_USER_DATA.format("5, undefined"),
    (CONFORMANCE.format("6.6.2.2"), 16): NOT_USER_DATA.format("10, undefined"),
    (CONFORMANCE.format("6.6.2.5"), 8): NOT_USER_DATA.format("2, test link states"),
}
TSHARK_LISTS_OBJECTS = frozenset({*range(1, 13), 20, 21, *range(25, 31), 129, 130})
TSHARK_READS_IIN = frozenset({129, 130})
TSHARK_UNKNOWN_OBJECTS = frozenset({
    (51, 2),      # common time of occurrence, unsynchronised
    (120, 3),     # secure authentication: aggressive mode request
})


def _comparable(function: int | None, objects: list[tuple[int, int]]) -> tuple | None:
    if function not in TSHARK_LISTS_OBJECTS:
        return None
    for i, pair in enumerate(objects):
        if pair in TSHARK_UNKNOWN_OBJECTS:
            return tuple(objects[:i + 1])
    return tuple(objects)


def tshark_key(pdu: TsharkPdu) -> Key | None:
    link = (pdu.int("dnp3.src"), pdu.int("dnp3.dst"), pdu.int("dnp3.len"), pdu.int("dnp3.ctl"))
    if "dnp3.al.func" in pdu.fields:
        function = pdu.int("dnp3.al.func")
        objects = [divmod(int(o, 16), 256) for o in pdu.fields.get("dnp3.al.obj", [])]
        return ("application", *link, pdu.int("dnp3.al.fragment.count"), pdu.int("dnp3.al.ctl"),
                function, pdu.int("dnp3.al.iin") if function in TSHARK_READS_IIN else None,
                _comparable(function, objects))
    if "dnp3.tr.ctl" in pdu.fields:
        return None
    function = pdu.int("dnp3.ctl.prifunc", pdu.int("dnp3.ctl.secfunc"))
    return ("link", *link, function)


def event_key(event: dict[str, Any]) -> Key:
    d = event["dnp3"]
    link = (d["source_address"], d["destination_address"], d["link"]["length"],
            d["link"]["control"])
    if "function_code" in d:
        objects = d.get("objects", {})
        pairs = list(zip(objects.get("group", []), objects.get("variation", []), strict=True))
        function = d["function_code"]
        return ("application", *link, d["transport"]["segments"], d["application"]["control"],
                function, d.get("iin") if function in TSHARK_READS_IIN else None,
                _comparable(function, pairs))
    return ("link", *link, d["link"]["function_code"])


def _compare(path: Path) -> tuple[list, list, list]:
    theirs = [(p.frame, key) for p in tshark_pdus(path, "dnp3")
              if (key := tshark_key(p)) is not None]
    events = run_sensor(path, analyzers=dnp3.ANALYZERS)
    mine = [(e["pcap"]["frame"], event_key(e)) for e in events
            if e["event"]["dataset"] == "dnp3"]
    return theirs, mine, events


@pytest.fixture(scope="module")
def compared() -> tuple[Agreement, list[dict[str, Any]]]:
    agreement, events = Agreement("dnp3"), []
    for path, (theirs, mine, evs) in zip(CAPTURES, in_parallel(_compare, CAPTURES),
                                         strict=True):
        agreement.add(path.name, theirs, mine)
        events += evs
    return agreement, events


def test_the_manifest_lists_the_dnp3_captures() -> None:
    assert len(CAPTURES) >= 200


def test_dnp3_pdus_agree_with_tshark(compared) -> None:
    agreement, _ = compared
    print(agreement.report(TOLERATED))
    assert agreement.tshark > 0
    assert agreement.ratio >= 0.995
    assert agreement.unexplained(TOLERATED) == []


def test_every_event_of_the_captures_validates(compared) -> None:
    _, events = compared
    problems = [(e["pcap"]["file"], e["pcap"]["frame"], validate(e)) for e in events
                if validate(e)]
    assert problems == []
