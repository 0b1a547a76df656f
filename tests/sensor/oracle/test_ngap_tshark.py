"""NGAP and NAS-5GS events agree with tshark's dissection on every public capture with NGAP.

NGAP, per message: procedure code, PDU type (choice index), RAN and AMF UE NGAP ids (the first
of each the message names), the PDU session ids and the number of NAS PDUs. NAS-5GS, per NAS
PDU: security header type and message type (none when the message is ciphered). Only NGAP on
SCTP is compared: tshark also dissects the NGAP containers that SBI HTTP bodies carry, which
the NGAP analyzer does not read (the SBI analyzer's business).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import ngap
from tests.utils.oracle import Agreement, Key, in_parallel, needs_tshark, tshark
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark
ON_SCTP = "ngap && sctp"
NAS_PDU_FIELDS = ("ngap.NAS_PDU", "ngap.nAS_PDU", "ngap.pDUSessionNAS_PDU")
PDU_TYPES = {name: index for index, name in enumerate(ngap.PDU_TYPES)}


CAPTURES = captures_with("ngap")

TOLERATED: dict[tuple[str, int], str] = {}


# --- tshark's side -------------------------------------------------------------------------
# One JSON dissection per capture, walked here: the kit's ``tshark_pdus`` cannot be used, as it
# reads the endpoints from the last ``sctp`` layer, which for a packet bundling two DATA chunks
# is the second chunk alone, without ports.

def their_messages(path: Path) -> tuple[list[tuple[int, Key]], list[tuple[int, Key]]]:
    """(frame, key) of every NGAP message on SCTP, and of every NAS-5GS PDU inside them."""
    out = tshark(path, "-Y", ON_SCTP, "-T", "json", "--no-duplicate-keys", "-J", "frame ngap")
    messages, nas = [], []
    for packet in json.loads(out or "[]"):
        layers = packet["_source"]["layers"]
        frame = int(layers["frame"]["frame.number"])
        for instance in _as_list(layers.get("ngap")):
            messages.append((frame, their_key(instance)))
            nas += [(frame, _nas_key(node)) for node in _nodes_named(instance, "nas-5gs")]
    return messages, nas


def their_key(tree: Any) -> Key:
    def number(name: str) -> int | None:
        value = _first(tree, name)
        return None if value is None else int(value, 0)

    session_ids = {int(v) for v in _every(tree, "ngap.pDUSessionID")}
    return (number("ngap.procedureCode"), number("ngap.NGAP_PDU"),
            number("ngap.RAN_UE_NGAP_ID"), number("ngap.AMF_UE_NGAP_ID"),
            tuple(sorted(session_ids)), len(list(_every(tree, *NAS_PDU_FIELDS))))


def _nas_key(node: Any) -> Key:
    header = _first(node, "nas_5gs.security_header_type")
    message = _first(node, "nas_5gs.mm.message_type", "nas_5gs.sm.message_type")
    return (int(header or "0", 0), None if message is None else int(message, 0))


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _nodes_named(tree: Any, name: str) -> Iterator[Any]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == name:
                yield from _as_list(value)
            else:
                yield from _nodes_named(value, name)
    elif isinstance(tree, list):
        for item in tree:
            yield from _nodes_named(item, name)


def _every(tree: Any, *names: str) -> Iterator[str]:
    """Values of the fields in ``names``, in document order."""
    for node in (n for name in names for n in _nodes_named(tree, name)):
        if isinstance(node, str):
            yield node


def _first(tree: Any, *names: str) -> str | None:
    return next(_every_in_order(tree, names), None)


def _every_in_order(tree: Any, names: tuple[str, ...]) -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in names:
                yield from (v for v in _as_list(value) if isinstance(v, str))
            else:
                yield from _every_in_order(value, names)
    elif isinstance(tree, list):
        for item in tree:
            yield from _every_in_order(item, names)


# --- our side --------------------------------------------------------------------------------

def our_key(event: dict[str, Any]) -> Key:
    fields = event["ngap"]
    return (fields["procedure_code"], PDU_TYPES[fields["pdu_type"]],
            fields.get("ran_ue_ngap_id"), fields.get("amf_ue_ngap_id"),
            tuple(sorted(fields.get("pdu_session_ids", []))), fields.get("nas_pdu_count", 0))


def our_nas_key(event: dict[str, Any]) -> Key:
    fields = event["nas5gs"]
    return (fields["security_header_type"], fields.get("message_type"))


# --- running both --------------------------------------------------------------------------

def compare(path: Path) -> dict[str, Any]:
    events = run_sensor(path, analyzers=(ngap.ANALYZER,))
    theirs, their_nas = their_messages(path)
    by_dataset: dict[str, list[dict[str, Any]]] = {"ngap": [], "nas5gs": [], "weird": []}
    for event in events:
        by_dataset.get(event["event"]["dataset"], []).append(event)
    return {
        "name": path.name,
        "ngap": (theirs, [(e["pcap"]["frame"], our_key(e)) for e in by_dataset["ngap"]]),
        "nas5gs": (their_nas, [(e["pcap"]["frame"], our_nas_key(e)) for e in by_dataset["nas5gs"]]),
        "weird": [(e["pcap"]["frame"], e["weird"]["name"]) for e in by_dataset["weird"]],
        "invalid": [f"{path.name}: {problem}" for e in events for problem in validate(e)],
        "events": len(by_dataset["ngap"]) + len(by_dataset["nas5gs"]),
    }


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    assert len({p.name for p in CAPTURES}) == len(CAPTURES)
    agreements = {"ngap": Agreement("ngap"), "nas5gs": Agreement("nas5gs")}
    summary: dict[str, Any] = {"weird": [], "invalid": [], "events": 0}
    for result in in_parallel(compare, CAPTURES):
        for protocol, agreement in agreements.items():
            agreement.add(result["name"], *result[protocol])
        for key in ("weird", "invalid"):
            summary[key] += [(result["name"], *item) if key == "weird" else item
                             for item in result[key]]
        summary["events"] += result["events"]
    return summary | agreements


def test_the_manifest_lists_the_ngap_captures() -> None:
    assert len(CAPTURES) >= 6


@pytest.mark.parametrize("protocol", ["ngap", "nas5gs"])
def test_events_agree_with_tshark(results: dict[str, Any], protocol: str) -> None:
    agreement = results[protocol]
    print(agreement.report(TOLERATED))
    assert agreement.tshark > (1000 if protocol == "ngap" else 900)
    assert agreement.ratio >= 0.995
    assert agreement.unexplained(TOLERATED) == []


def test_every_event_validates_and_nothing_is_weird(results: dict[str, Any]) -> None:
    assert results["invalid"] == []
    assert results["weird"] == []
    assert results["events"] > 2000
