"""Modbus events of ``liaowang replay`` agree with tshark on every public capture with Modbus.

On clean TCP streams the PDUs (frame, transaction id, unit id, function code) must be the same
set. On streams where tshark itself reports loss or retransmission the two reassemble
differently (tshark dissects segments after a gap; Liaowang delivers each byte once, in order),
so there every PDU Liaowang reports must be one tshark finds when it dissects every segment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.utils.pcaps import captures_with

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


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    """One ``liaowang replay`` over all the captures; its Modbus events by capture file name."""
    assert len({p.name for p in MODBUS_CAPTURES}) == len(MODBUS_CAPTURES)
    out = tmp_path_factory.mktemp("replay") / "events.jsonl"
    liaowang = Path(sys.executable).with_name("liaowang")
    done = subprocess.run([liaowang, "replay", *map(str, MODBUS_CAPTURES), "--jsonl", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    by_file: dict[str, list[dict[str, Any]]] = {}
    for line in out.read_text().splitlines():
        event = json.loads(line)
        if event["event"]["dataset"] == "modbus":
            by_file.setdefault(event["pcap"]["file"], []).append(event)
    return by_file


def liaowang_pdus(events: list[dict[str, Any]]) -> dict[Endpoints, list[Pdu]]:
    pdus: dict[Endpoints, list[Pdu]] = {}
    for event in events:
        src, dst, mb = event["source"], event["destination"], event["modbus"]
        key = frozenset({(src["ip"], src["port"]), (dst["ip"], dst["port"])})
        pdus.setdefault(key, []).append(
            (event["pcap"]["frame"], mb["transaction_id"], mb["unit_id"], mb["function_code"]))
    return pdus


def test_the_manifest_lists_the_modbus_captures() -> None:
    assert len(MODBUS_CAPTURES) >= 25


@pytest.mark.parametrize("path", MODBUS_CAPTURES, ids=lambda p: p.name)
def test_modbus_events_agree_with_tshark(path: Path, replayed) -> None:
    ours, theirs = liaowang_pdus(replayed.get(path.name, [])), tshark_pdus(path)
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
