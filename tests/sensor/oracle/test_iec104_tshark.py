"""IEC 60870-5-104 events agree with tshark on every public capture that carries the protocol.

Two comparisons per frame: the APCI of every APDU (frame type, send and receive sequence numbers,
U function) against tshark's ``iec60870_104`` layer, and the ASDU of every I-frame (type id,
cause, common address, information object addresses and the values of the common monitor types)
against its ``iec60870_asdu`` layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from tests.utils.oracle import Agreement, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark
CAPTURES = captures_with("iec60870_104")
APCI_TYPES = {0: "I", 1: "S", 3: "U"}
# tshark's field per monitor type with one value per object (single, double, scaled, float)
VALUE_FIELDS = {1: "iec60870_asdu.siq.spi", 30: "iec60870_asdu.siq.spi",
                3: "iec60870_asdu.diq.dpi", 31: "iec60870_asdu.diq.dpi",
                11: "iec60870_asdu.scalval", 35: "iec60870_asdu.scalval",
                13: "iec60870_asdu.float", 36: "iec60870_asdu.float"}
TOLERATED: dict[tuple[str, int], str] = {}


def their_apci(pdu: TsharkPdu) -> tuple[Any, ...]:
    kind = APCI_TYPES[pdu.int("iec60870_104.type") or 0]
    return kind, pdu.int("iec60870_104.tx"), pdu.int("iec60870_104.rx"), \
        pdu.int("iec60870_104.utype")


def our_apci(fields: dict[str, Any]) -> tuple[Any, ...]:
    u_function = fields.get("u_function")
    return fields["apci_type"], fields.get("send_seq"), fields.get("recv_seq"), \
        None if u_function is None else u_function >> 2


def their_asdu(pdu: TsharkPdu) -> tuple[Any, ...]:
    type_id = pdu.int("iec60870_asdu.typeid")
    values = pdu.fields.get(VALUE_FIELDS.get(type_id or 0, ""), [])
    return (type_id, pdu.int("iec60870_asdu.causetx"), pdu.int("iec60870_asdu.addr"),
            tuple(int(v) for v in pdu.fields.get("iec60870_asdu.ioa", [])),
            tuple(round(float(v), 3) for v in values))


def our_asdu(fields: dict[str, Any]) -> tuple[Any, ...]:
    type_id = fields["type_id"]
    values = fields.get("value", []) if type_id in VALUE_FIELDS else []
    return (type_id, fields["cot"], fields["common_address"], tuple(fields.get("ioa", [])),
            tuple(round(float(v), 3) for v in values))


@pytest.fixture(scope="module")
def agreements() -> tuple[Agreement, Agreement]:
    apci, asdu = Agreement("iec104 apci"), Agreement("iec104 asdu")
    dissected = list(in_parallel(
        lambda path: (tshark_pdus(path, "iec60870_104"), tshark_pdus(path, "iec60870_asdu")),
        CAPTURES))
    for path, (their_apdus, their_asdus) in zip(CAPTURES, dissected, strict=True):
        ours = [(e["pcap"]["frame"], e["iec104"]) for e in _events(path)]
        apci.add(path.name, [(p.frame, their_apci(p)) for p in their_apdus],
                 [(frame, our_apci(f)) for frame, f in ours])
        asdu.add(path.name, [(p.frame, their_asdu(p)) for p in their_asdus],
                 [(frame, our_asdu(f)) for frame, f in ours if f["apci_type"] == "I"])
    return apci, asdu


def _events(path: Path) -> list[dict[str, Any]]:
    events = [e for e in run_sensor(path) if e["event"]["dataset"] == "iec104"]
    assert all(validate(e) == [] for e in events)
    return events


def test_the_manifest_lists_the_iec104_captures() -> None:
    assert len(CAPTURES) >= 2


@pytest.mark.parametrize("which", [0, 1], ids=["apci", "asdu"])
def test_iec104_agrees_with_tshark(agreements: tuple[Agreement, Agreement], which: int) -> None:
    agreement = agreements[which]
    print(agreement.report(TOLERATED))
    assert agreement.tshark > 0
    assert agreement.ratio >= 0.995
    assert agreement.unexplained(TOLERATED) == []
