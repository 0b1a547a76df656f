"""Modbus events agree with tshark's dissection on every public capture that carries Modbus.

Per PDU the key is the transaction id, unit id, function code and exception code, plus the
reference number (start address) and count wherever the PDU itself holds them (requests of the
read and write functions, and the responses that echo them): tshark shows them only there, while
Liaowang also copies them from a request onto its response.

On streams where tshark itself reports loss, retransmission or reordering the two reassemble
differently (tshark dissects segments after a gap and every retransmitted copy; Liaowang delivers
each byte once, in order), so there every PDU Liaowang reports must be one tshark finds when it
dissects every segment, and tshark's extra PDUs are not counted against Liaowang.

Four captures of a long-running plant (the Lemay dataset, 4–13 MB, 170 000 PDUs in all) would
take tshark most of the test's time; every capture is compared over its first ``FRAMES`` frames.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from tests.utils.oracle import (
    Agreement,
    Endpoints,
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

CAPTURES = captures_with("modbus")
ADDRESSED_REQUESTS = frozenset({1, 2, 3, 4, 5, 6, 15, 16, 22})
ECHOING_RESPONSES = frozenset({5, 6, 15, 16, 22})
BIT_COUNTS, WORD_COUNTS = frozenset({1, 2, 15}), frozenset({3, 4, 16})
EVERY_SEGMENT = ("-o", "tcp.analyze_sequence_numbers:FALSE")
FRAMES = 25_000

TOLERATED: dict[tuple[str, int], str] = {}


def addressed(function: int | None, is_response: bool, exception: int | None) -> bool:
    if exception is not None or function is None:
        return False
    return function in (ECHOING_RESPONSES if is_response else ADDRESSED_REQUESTS)


def their_key(pdu: TsharkPdu) -> Key:
    function, exception = pdu.int("modbus.func_code"), pdu.int("modbus.exception_code")
    is_response = pdu.first("modbus.request_frame") is not None or exception is not None
    address = count = None
    if addressed(function, is_response, exception):
        address = pdu.int("modbus.reference_num")
        count = pdu.int("modbus.bit_cnt") if function in BIT_COUNTS else \
            pdu.int("modbus.word_cnt") if function in WORD_COUNTS else None
    return (pdu.int("mbtcp.trans_id"), pdu.int("mbtcp.unit_id"), function, exception,
            address, count)


def our_key(event: dict[str, Any]) -> Key:
    mb = event["modbus"]
    function, exception = mb["function_code"], mb.get("exception_code")
    address = count = None
    if addressed(function, mb["is_response"], exception):
        address = mb.get("address")
        count = mb.get("quantity") if function in BIT_COUNTS | WORD_COUNTS else None
    return (mb["transaction_id"], mb["unit_id"], function, exception, address, count)


def compare(path: Path) -> dict[str, Any]:
    events = [e for e in run_sensor(path, frames=FRAMES)
              if e["event"]["dataset"] in ("modbus", "weird")]
    impaired = impaired_streams(path, FRAMES)
    theirs = tshark_pdus(path, "modbus", with_layers=("mbtcp",), frames=FRAMES)
    every = tshark_pdus(path, "modbus", *EVERY_SEGMENT, with_layers=("mbtcp",),
                        frames=FRAMES) if impaired else []
    ours = [e for e in events if e["event"]["dataset"] == "modbus"]
    return {"name": path.name, "impaired": impaired, "theirs": theirs, "every": every,
            "ours": ours, "invalid": [p for e in events for p in validate(e)]}


def clean(pdus: list[Any], impaired: set[Endpoints], stream_of: Any) -> list[Any]:
    return [p for p in pdus if stream_of(p) not in impaired]


@pytest.fixture(scope="module")
def results() -> list[dict[str, Any]]:
    assert len({p.name for p in CAPTURES}) == len(CAPTURES)
    return list(in_parallel(compare, CAPTURES))


@pytest.fixture(scope="module")
def agreement(results) -> Agreement:
    """The clean streams of every capture, PDU by PDU."""
    result = Agreement("modbus")
    for run in results:
        theirs = clean(run["theirs"], run["impaired"], lambda p: p.stream)
        ours = clean(run["ours"], run["impaired"], event_stream)
        result.add(run["name"], [(p.frame, their_key(p)) for p in theirs],
                   [(e["pcap"]["frame"], our_key(e)) for e in ours])
    return result


def test_the_manifest_lists_the_modbus_captures() -> None:
    assert len(CAPTURES) >= 25


def test_modbus_events_agree_with_tshark(agreement) -> None:
    print(agreement.report(TOLERATED))
    assert agreement.tshark > 40_000
    assert agreement.ratio >= 0.995
    assert agreement.unexplained(TOLERATED) == []


def test_on_impaired_streams_every_reported_pdu_is_one_tshark_finds(results) -> None:
    checked = 0
    for run in results:
        found = Counter((p.stream, their_key(p)) for p in run["every"]
                        if p.stream in run["impaired"])
        reported = Counter((event_stream(e), our_key(e)) for e in run["ours"]
                           if event_stream(e) in run["impaired"])
        assert reported <= found, (run["name"], reported - found)
        checked += reported.total()
    assert checked > 0


def test_every_modbus_event_is_schema_valid(results) -> None:
    assert [p for run in results for p in run["invalid"]] == []
