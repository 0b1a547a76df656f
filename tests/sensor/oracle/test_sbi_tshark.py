"""SBI (HTTP/2) events agree with tshark's ``http2`` layer on every public capture with HTTP/2.

tshark dissects frames; the sensor reports messages. So tshark's frames are folded into messages
by the same rules the analyzer states: a request ends on END_STREAM (or when its response's
headers arrive, or on RST_STREAM), a response ends on END_STREAM (or on RST_STREAM), and header
blocks complete on END_HEADERS. Each message is then keyed by the frame that completed it:
requests by stream id, method and ``:path``; responses by stream id and status; RST_STREAM and
GOAWAY frames by their stream and error code. Header values come from tshark's own HPACK
decoding, so this checks framing, reassembly and HPACK state against an independent decoder.

Ports: the sensor runs with the ports tshark was told to decode as HTTP/2 (the manifest's
``decode-as``), as an operator would configure a non-standard SBI port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from sensor.analyzers import sbi
from tests.utils.oracle import Agreement, Key, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import PCAPS, captures_with, manifest, run_sensor

pytestmark = needs_tshark

DECODE_AS = re.compile(r"tcp\.port==(\d+),http2")
END_STREAM, END_HEADERS = 0x1, 0x4


def _captures(protocol: str) -> dict[Path, tuple[int, ...]]:
    """``captures_with`` (also reading ``protocols_found`` lists joined by ``;``), each with
    the ports the manifest decoded as HTTP/2."""
    rows = {PCAPS / row["path"]: row for row in manifest()}
    listed = {path for path, row in rows.items()
              if protocol in {p.split(":")[0] for p in re.split(r"[;\s]+",
                                                                row["protocols_found"])}}
    return {path: tuple(int(p) for p in DECODE_AS.findall(rows[path]["labels_or_notes"]))
            for path in sorted(listed | set(captures_with(protocol)))}


CAPTURES = _captures("http2")
TOLERATED: dict[tuple[str, int], str] = {
    ("tests__transform-base64-7296__input.pcap", 47):
        "this suricata-verify test corrupts the connection (frame 36 sets every TCP flag, the "
        "101 status line has a 0x10 for a space, frame 45 names stream 0x7eff06ff); tshark "
        "holds the server's segments 41-47 for a PDU that never completes and never dissects "
        "them, while frame 47 does carry DATA and RST_STREAM (stream 1, NO_ERROR)",
}


@dataclass
class Half:
    key: Key | None = None
    done: bool = False


@dataclass
class Exchange:
    request: Half
    response: Half


class MessageFolder:
    """tshark's HTTP/2 frames of one capture, folded into the messages the analyzer reports."""

    def __init__(self, server_ports: set[int]) -> None:
        self.server_ports = server_ports
        self.streams: dict[tuple[Any, int], Exchange] = {}
        self.pending: dict[tuple[Any, bool], tuple[int, bool, TsharkPdu]] = {}
        self.out: list[tuple[int, Key]] = []

    def add(self, pdu: TsharkPdu) -> None:
        kind, flags, sid = pdu.int("http2.type"), pdu.int("http2.flags", 0), \
            pdu.int("http2.streamid", 0)
        to_server = pdu.int("tcp.dstport") in self.server_ports
        handler = {0: self._data, 1: self._headers, 9: self._continuation,
                   3: self._rst, 7: self._goaway}.get(kind if kind is not None else -1)
        if handler is not None:
            handler(pdu, flags, sid, to_server)

    def _exchange(self, pdu: TsharkPdu, sid: int) -> Exchange:
        return self.streams.setdefault((pdu.stream, sid), Exchange(Half(), Half()))

    def _headers(self, pdu: TsharkPdu, flags: int, sid: int, to_server: bool) -> None:
        self.pending[(pdu.stream, to_server)] = (sid, bool(flags & END_STREAM), pdu)
        if flags & END_HEADERS:
            self._finish(pdu, to_server)

    def _continuation(self, pdu: TsharkPdu, flags: int, sid: int, to_server: bool) -> None:
        if flags & END_HEADERS and (pdu.stream, to_server) in self.pending:
            self._finish(pdu, to_server)

    def _finish(self, pdu: TsharkPdu, to_server: bool) -> None:
        sid, end_stream, first = self.pending.pop((pdu.stream, to_server))
        exchange = self._exchange(pdu, sid)
        status = first.first("http2.headers.status") or pdu.first("http2.headers.status")
        if to_server:
            method = first.first("http2.headers.method") or pdu.first("http2.headers.method")
            path = first.first("http2.headers.path") or pdu.first("http2.headers.path")
            exchange.request.key = exchange.request.key or ("request", sid, method, path)
            if end_stream:
                self._emit(pdu.frame, exchange.request)
            return
        if status and status.startswith("1"):
            return
        self._emit(pdu.frame, exchange.request)
        exchange.response.key = exchange.response.key or ("response", sid, int(status or 0))
        if end_stream:
            self._emit(pdu.frame, exchange.response)

    def _data(self, pdu: TsharkPdu, flags: int, sid: int, to_server: bool) -> None:
        if not flags & END_STREAM:
            return
        exchange = self._exchange(pdu, sid)
        self._emit(pdu.frame, exchange.request)
        if not to_server:
            self._emit(pdu.frame, exchange.response)

    def _rst(self, pdu: TsharkPdu, flags: int, sid: int, to_server: bool) -> None:
        exchange = self.streams.pop((pdu.stream, sid), None)
        if exchange is not None:
            self._emit(pdu.frame, exchange.request)
            self._emit(pdu.frame, exchange.response)
        self.out.append((pdu.frame, ("rst_stream", sid, pdu.int("http2.rst_stream.error"))))

    def _goaway(self, pdu: TsharkPdu, flags: int, sid: int, to_server: bool) -> None:
        self.out.append((pdu.frame, ("goaway", pdu.int("http2.goaway.last_stream_id"),
                                     pdu.int("http2.goaway.error"))))

    def _emit(self, frame: int, half: Half) -> None:
        if half.key is not None and not half.done:
            half.done = True
            self.out.append((frame, half.key))


def event_key(event: dict[str, Any]) -> Key | None:
    s, http, url = event["sbi"], event.get("http", {}), event.get("url", {})
    if "frame_type" in s:
        stream = s["last_stream_id"] if s["frame_type"] == "goaway" else s["stream_id"]
        return (s["frame_type"], stream, s["error_code"])
    if s["is_response"]:
        return ("response", s["stream_id"], http["response"].get("status_code", 0))
    if http.get("version") != "2":
        return None             # the HTTP/1.1 request of an h2c upgrade: tshark's ``http``
    path = url.get("path", "") + ("?" + url["query"] if "query" in url else "")
    return ("request", s["stream_id"], http["request"].get("method"), path or None)


def _compare(item: tuple[Path, tuple[int, ...]]) -> tuple[list, list, list]:
    path, ports = item
    spec = replace(sbi.ANALYZER, ports=tuple(sorted({*sbi.ANALYZER.ports, *ports})))
    events = run_sensor(path, analyzers=(spec,))
    options = [arg for port in ports for arg in ("-d", f"tcp.port=={port},http2")]
    folder = MessageFolder({*spec.ports})
    for pdu in tshark_pdus(path, "http2", *options, with_layers=("tcp",)):
        folder.add(pdu)
    ours = [(e["pcap"]["frame"], key) for e in events
            if e["event"]["dataset"] == "sbi" and (key := event_key(e)) is not None]
    return folder.out, ours, events


@pytest.fixture(scope="module")
def compared() -> tuple[Agreement, list[dict[str, Any]]]:
    agreement, events = Agreement("sbi"), []
    for path, (theirs, ours, evs) in zip(CAPTURES, in_parallel(_compare, CAPTURES.items()),
                                         strict=True):
        agreement.add(path.name, theirs, ours)
        events += evs
    return agreement, events


def test_the_manifest_lists_the_http2_captures() -> None:
    assert len(CAPTURES) >= 15


def test_sbi_messages_agree_with_tshark(compared) -> None:
    agreement, _ = compared
    print(agreement.report(TOLERATED))
    assert agreement.tshark > 0
    assert agreement.ratio >= 0.995
    assert agreement.unexplained(TOLERATED) == []


def test_every_event_of_the_captures_validates(compared) -> None:
    _, events = compared
    problems = [(e["pcap"]["frame"], validate(e)) for e in events if validate(e)]
    assert problems == []
