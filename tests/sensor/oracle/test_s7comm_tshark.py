"""S7comm and S7comm-plus events agree with tshark on every public capture that carries them.

S7comm: per frame, (ROSCTR, PDU reference, error class, function of jobs and ack-data, userdata
group and subfunction) against tshark's ``s7comm`` layer; both show a PDU on the frame that
completed its COTP segments. tshark 4.0 has no S7comm-plus dissector, so S7comm-plus is compared
with what it leaves as COTP data starting with the S7comm-plus protocol id 0x72 (how the manifest
counted it): per frame, the protocol version.

Streams where tshark itself sees lost segments (captures filtered down to S7 frames) reassemble
differently: tshark dissects each segment after a hole, while Liaowang's TCP reassembly holds
the bytes after a hole that is never filled and so reports nothing past it. Those streams are
compared apart (:data:`IMPAIRED_WHY`), and there every PDU Liaowang reports must be one tshark
decodes when it dissects every segment as it comes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import s7comm
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


S7COMM_CAPTURES = captures_with("s7comm")
PLUS_CAPTURES = captures_with("s7comm-plus(heur)")
CAPTURES = sorted(set(S7COMM_CAPTURES) | set(PLUS_CAPTURES))
PLUS_DATA = "cotp && data.data[0] == 0x72"
EVERY_SEGMENT = ("-o", "tcp.analyze_sequence_numbers:FALSE")
MODE_TRANSITION = 0

TOLERATED: dict[tuple[str, int], str] = {}
IMPAIRED_WHY = ("tshark reports lost or retransmitted segments in this stream: Liaowang holds "
                "the bytes after a hole that is never filled, tshark dissects past it")


def their_s7comm(pdu: TsharkPdu) -> Key:
    rosctr = pdu.int("s7comm.header.rosctr")
    group = pdu.int("s7comm.param.userdata.funcgroup") if rosctr == 7 else None
    subfunction = pdu.int("s7comm.param.modetrans.subfunc" if group == MODE_TRANSITION
                          else "s7comm.param.userdata.subfunc") if rosctr == 7 else None
    return ("s7comm", rosctr, pdu.int("s7comm.header.pduref"), pdu.int("s7comm.header.errcls"),
            pdu.int("s7comm.param.func") if rosctr in (1, 3) else None, group, subfunction)


def our_s7comm(fields: dict[str, Any]) -> Key:
    rosctr = fields.get("rosctr")
    return ("s7comm", rosctr, fields.get("pdu_reference"), fields.get("error_class"),
            fields.get("function") if rosctr in (1, 3) else None,
            fields.get("userdata_group"), fields.get("userdata_subfunction"))


def their_plus(pdu: TsharkPdu) -> Key:
    data = pdu.first("data.data", "")
    return ("s7comm-plus", int(data[3:5], 16))


def our_key(fields: dict[str, Any]) -> Key | None:
    if fields["protocol"] == "s7comm":
        return our_s7comm(fields)
    if fields["protocol"] == "s7comm-plus":
        return ("s7comm-plus", fields["plus"]["version"])
    return None


Pairs = list[tuple[int, Key, Endpoints]]


def their_pdus(path: Path, *options: str) -> Pairs:
    pairs = []
    if path in S7COMM_CAPTURES:
        pairs += [(p.frame, their_s7comm(p), p.stream)
                  for p in tshark_pdus(path, "s7comm", *options)]
    if path in PLUS_CAPTURES:
        pairs += [(p.frame, their_plus(p), p.stream)
                  for p in tshark_pdus(path, "data", *options, display_filter=PLUS_DATA)]
    return pairs


def _dissect(path: Path) -> tuple[Pairs, Pairs, Pairs, set[Endpoints], list[dict[str, Any]]]:
    impaired = impaired_streams(path)
    theirs = their_pdus(path)
    every = their_pdus(path, *EVERY_SEGMENT) if impaired else []
    events = [e for e in run_sensor(path, analyzers=(s7comm.ANALYZER,))
              if e["event"]["dataset"] == "s7comm"
              or e.get("weird", {}).get("analyzer") == "s7comm"]
    ours = [(e["pcap"]["frame"], key, event_stream(e)) for e in events
            if "s7comm" in e and (key := our_key(e["s7comm"])) is not None]
    return theirs, ours, every, impaired, events


class Compared:
    def __init__(self) -> None:
        self.clean = Agreement("s7comm, clean streams")
        self.impaired = Agreement("s7comm, streams tshark reports impaired")
        self.not_decoded: list[tuple[str, Key]] = []
        self.events: list[dict[str, Any]] = []

    def add(self, path: Path, theirs: Pairs, ours: Pairs, every: Pairs,
            impaired: set[Endpoints]) -> None:
        for agreement, wanted in ((self.clean, False), (self.impaired, True)):
            agreement.add(path.name, [(f, k) for f, k, s in theirs if (s in impaired) == wanted],
                          [(f, k) for f, k, s in ours if (s in impaired) == wanted])
        decoded = Counter(k for _, k, s in every if s in impaired)
        reported = Counter(k for _, k, s in ours if s in impaired)
        self.not_decoded += [(path.name, key) for key in reported - decoded]


@pytest.fixture(scope="module")
def compared() -> Compared:
    result = Compared()
    for path, (theirs, ours, every, impaired, events) in zip(
            CAPTURES, in_parallel(_dissect, CAPTURES), strict=True):
        result.add(path, theirs, ours, every, impaired)
        result.events += events
    return result


def test_the_manifest_lists_the_s7_captures() -> None:
    assert len(S7COMM_CAPTURES) >= 30 and len(PLUS_CAPTURES) >= 23


def test_s7comm_agrees_with_tshark_on_clean_streams(compared: Compared) -> None:
    print(compared.clean.report(TOLERATED))
    assert compared.clean.tshark > 15_000
    assert compared.clean.ratio >= 0.995
    assert compared.clean.unexplained(TOLERATED) == []


def test_on_impaired_streams_every_reported_pdu_is_one_tshark_decodes(compared: Compared
                                                                      ) -> None:
    tolerated = {(c, f): IMPAIRED_WHY for kind in (compared.impaired.missing,
                                                   compared.impaired.extra) for c, f, _ in kind}
    print(compared.impaired.report(tolerated))
    assert compared.not_decoded == []


def test_every_event_validates_and_no_stream_is_given_up(compared: Compared) -> None:
    assert all(validate(event) == [] for event in compared.events)
    weirds = Counter(e["weird"]["name"] for e in compared.events
                     if e["event"]["dataset"] == "weird")
    # captures that join a stream midway can open with a TCP keep-alive's byte; captures filtered
    # down to S7 frames have holes the peer acknowledged (reported once each as tcp_gap)
    assert set(weirds) <= {s7comm.Anomaly.STRAY_BYTE, "tcp_gap"}, weirds


def test_all_streams_together_agree(compared: Compared) -> None:
    """Held segments keep their own frames after a hole the peer acknowledged, so even the
    impaired streams agree PDU by PDU (99.7 % when last measured)."""
    matched = compared.clean.matched + compared.impaired.matched
    total = compared.clean.tshark + compared.impaired.tshark
    print(f"s7comm, all streams: {matched}/{total} PDUs agree ({100 * matched / total:.2f} %)")
    assert matched / total >= 0.995
