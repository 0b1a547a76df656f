"""Modbus events agree with tshark on every public capture that carries Modbus.

On clean TCP streams the PDUs (frame, transaction id, unit id, function code) must be the same
set. On streams where tshark itself reports loss or retransmission the two reassemble
differently (tshark dissects segments after a gap; Liaowang delivers each byte once, in order),
so there every PDU Liaowang reports must be one tshark finds when it dissects every segment.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.utils.pcaps import PCAPS, captures_with, run_sensor

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None,
                                reason="tshark not installed; make test installs it")
IMPAIRED = ("tcp.analysis.retransmission or tcp.analysis.lost_segment or "
            "tcp.analysis.out_of_order or tcp.analysis.ack_lost_segment or "
            "tcp.analysis.spurious_retransmission or tcp.analysis.reused_ports")
MODBUS_CAPTURES = captures_with("modbus")

Pdu = tuple[int, int, int, int]          # frame, transaction id, unit id, function code
Endpoints = frozenset[tuple[str, int]]


def tshark(path: Path, *args: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), *args], capture_output=True,
                         text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def tshark_pdus(path: Path, *options: str) -> dict[Endpoints, list[Pdu]]:
    rows = tshark(path, *options, "-Y", "mbtcp", "-T", "fields", "-E", "occurrence=a",
                  "-E", "aggregator=;", "-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src",
                  "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                  "-e", "mbtcp.trans_id", "-e", "mbtcp.unit_id", "-e", "modbus.func_code")
    pdus: dict[Endpoints, list[Pdu]] = {}
    for frame, src4, src6, sport, dst4, dst6, dport, tids, units, codes in rows:
        key = frozenset({(src4 or src6, int(sport)), (dst4 or dst6, int(dport))})
        codes_list = codes.split(";") if codes else []
        for i, (tid, unit) in enumerate(zip(tids.split(";"), units.split(";"), strict=True)):
            code = int(codes_list[i]) if i < len(codes_list) else -1
            pdus.setdefault(key, []).append((int(frame), int(tid), int(unit), code))
    return pdus


def impaired_streams(path: Path) -> set[Endpoints]:
    rows = tshark(path, "-Y", IMPAIRED, "-T", "fields", "-e", "ip.src", "-e", "ipv6.src",
                  "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport")
    return {frozenset({(s4 or s6, int(sp)), (d4 or d6, int(dp))})
            for s4, s6, sp, d4, d6, dp in rows}


def liaowang_pdus(path: Path) -> dict[Endpoints, list[Pdu]]:
    pdus: dict[Endpoints, list[Pdu]] = {}
    for event in run_sensor(path):
        if event["event"]["dataset"] != "modbus":
            continue
        src, dst, mb = event["source"], event["destination"], event["modbus"]
        key = frozenset({(src["ip"], src["port"]), (dst["ip"], dst["port"])})
        pdus.setdefault(key, []).append(
            (event["pcap"]["frame"], mb["transaction_id"], mb["unit_id"], mb["function_code"]))
    return pdus


def test_the_manifest_lists_the_modbus_captures() -> None:
    assert len(MODBUS_CAPTURES) >= 25


@pytest.mark.parametrize("path", MODBUS_CAPTURES, ids=lambda p: p.name)
def test_modbus_events_agree_with_tshark(path: Path) -> None:
    ours, theirs = liaowang_pdus(path), tshark_pdus(path)
    impaired = impaired_streams(path)
    for stream in set(ours) | set(theirs):
        if stream not in impaired:
            assert sorted(ours.get(stream, [])) == sorted(theirs.get(stream, [])), stream
    every_segment = tshark_pdus(path, "-o", "tcp.analyze_sequence_numbers:FALSE") if impaired \
        else {}
    for stream in impaired & set(ours):
        found = Counter(pdu[1:] for pdu in every_segment.get(stream, []))
        reported = Counter(pdu[1:] for pdu in ours[stream])
        assert reported <= found, (stream, reported - found)
    assert sum(map(len, ours.values())) > 0
