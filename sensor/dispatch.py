"""Choosing an analyzer for a flow and feeding it reassembled payload.

Ports are hints: the analyzers listening on a flow's port are tried in registration order, and the
first whose ``probe`` accepts the first payload is kept (GTPv1-C and GTPv2-C share a port). A
protocol violation is one ``weird``; on TCP it also disables the analyzer for the flow (the
framing is lost), while a bad UDP datagram or SCTP message stands alone. An exception inside an
analyzer becomes a ``weird`` named ``analyzer_exception`` (``strict`` re-raises it instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sensor.analyzers.base import AnalyzerSpec, Malformed, NeedMore, Parsed
from sensor.decode import Packet
from sensor.flows import TCP_ACK, TCP_SYN
from sensor.reassembly import Chunk, TcpStream
from sensor.sctp import SctpMessages

PROBING, CONFIRMED, DISABLED = "probing", "confirmed", "disabled"
TRANSPORT_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}


@dataclass(slots=True)
class AppOutput:
    """A PDU's protocol fields, or the name of a weird, found on ``frame``."""

    frame: int
    to_server: bool
    analyzer: str
    fields: dict[str, Any] | None = None
    weird: str | None = None
    detail: str | None = None


class AppSession:
    """One analyzer attached to one flow."""

    def __init__(self, candidates: tuple[AnalyzerSpec, ...], server_is_destination: bool,
                 strict: bool) -> None:
        self.candidates = candidates
        self.spec = candidates[0]
        self.server_is_destination = server_is_destination
        self.strict = strict
        self.state = PROBING
        self.flow_state: Any = None
        self.buffers = (bytearray(), bytearray())
        self.tcp = (TcpStream(), TcpStream())
        self.sctp = (SctpMessages(), SctpMessages())

    def feed(self, packet: Packet, from_source: bool) -> list[AppOutput]:
        if self.state == DISABLED:
            return []
        to_server = from_source == self.server_is_destination
        side = 0 if from_source else 1
        if self.spec.transport == "tcp":
            return self._feed_tcp(packet, side, to_server)
        if self.spec.transport == "sctp":
            return self._feed_sctp(packet, side, to_server)
        return self._consume(bytearray(packet.payload), packet.frame, to_server)

    def _feed_tcp(self, packet: Packet, side: int, to_server: bool) -> list[AppOutput]:
        stream = self.tcp[side]
        if packet.tcp_flags & TCP_SYN:
            stream.start(packet.seq)
        out: list[AppOutput] = []
        if packet.tcp_flags & TCP_ACK:
            lost = self.tcp[1 - side].acknowledged(packet.ack, packet.frame)
            out += self._deliver(lost, 1 - side, not to_server)
        return out + self._deliver(stream.add(packet.seq, packet.payload, packet.frame), side,
                                   to_server)

    def _deliver(self, chunks: list[Chunk], side: int, to_server: bool) -> list[AppOutput]:
        """Reassembled chunks of one direction to the analyzer (``b""``: a gap)."""
        out: list[AppOutput] = []
        buffer = self.buffers[side]
        for data, frame in chunks:
            if not data:
                out.append(self._weird(frame, to_server, "tcp_gap"))
                buffer.clear()
                if self.state == CONFIRMED:
                    self.state = PROBING
                continue
            buffer += data
            out += self._consume(buffer, frame, to_server)
        return out

    def _feed_sctp(self, packet: Packet, side: int, to_server: bool) -> list[AppOutput]:
        out: list[AppOutput] = []
        for message in self.sctp[side].add(packet.payload):
            if not self.spec.ppids or message.ppid in self.spec.ppids:
                out += self._consume(bytearray(message.data), packet.frame, to_server)
        return out

    def _consume(self, buffer: bytearray, frame: int, to_server: bool) -> list[AppOutput]:
        out: list[AppOutput] = []
        if self.state == PROBING and buffer:
            self._probe(bytes(buffer))
        while buffer and self.state == CONFIRMED:
            outputs = self._parse_one(buffer, frame, to_server)
            if outputs is None:
                break
            out += outputs
        return out

    def _probe(self, payload: bytes) -> None:
        undecided = False
        for spec in self.candidates:
            verdict = spec.probe(payload)
            if verdict:
                self.spec, self.state = spec, CONFIRMED
                if spec.new_state is not None and self.flow_state is None:
                    self.flow_state = spec.new_state()
                return
            undecided = undecided or verdict is None
        if not undecided:
            self.state = DISABLED

    def _parse_one(self, buffer: bytearray, frame: int, to_server: bool
                   ) -> list[AppOutput] | None:
        try:
            result = self.spec.parse(bytes(buffer), to_server)
            if isinstance(result, Parsed):
                del buffer[:result.consumed]
                name = self.spec.name
                return [AppOutput(frame, to_server, name, fields=fields)
                        for fields in self.spec.events(result.pdu, self.flow_state)]
        except Exception as exc:
            if self.strict:
                raise
            return self._violation(buffer, frame, to_server, "analyzer_exception", repr(exc))
        if isinstance(result, NeedMore):
            if result.needed <= self.spec.max_pdu:
                return None
            return self._violation(buffer, frame, to_server, f"{self.spec.name}_pdu_too_long")
        assert isinstance(result, Malformed)
        return self._violation(buffer, frame, to_server, str(result.reason))

    def _violation(self, buffer: bytearray, frame: int, to_server: bool, name: str,
                   detail: str | None = None) -> list[AppOutput]:
        buffer.clear()
        if self.spec.transport == "tcp":   # the stream's framing is lost; a datagram stands alone
            self.state = DISABLED
        return [self._weird(frame, to_server, name, detail)]

    def _weird(self, frame: int, to_server: bool, name: str,
               detail: str | None = None) -> AppOutput:
        return AppOutput(frame, to_server, self.spec.name, weird=name, detail=detail)


class Dispatcher:
    """Attaches analyzers to flows by transport and port."""

    def __init__(self, analyzers: tuple[AnalyzerSpec, ...], strict: bool = False) -> None:
        self.analyzers, self.strict = analyzers, strict
        self.by_port: dict[tuple[int, int], tuple[AnalyzerSpec, ...]] = {}
        for spec in analyzers:
            for port in spec.ports:
                key = (TRANSPORT_NUMBERS[spec.transport], port)
                self.by_port[key] = (*self.by_port.get(key, ()), spec)

    def port_keys(self) -> np.ndarray:
        """``proto << 16 | port`` of every port an analyzer listens on, for a vectorised test."""
        return np.array(sorted(proto << 16 | port for proto, port in self.by_port), np.int64)

    def session_for(self, proto: int, sport: int, dport: int) -> AppSession | None:
        """An analyzer session for a flow (ports as seen from the flow's source), if any."""
        candidates = self.by_port.get((proto, dport))
        if candidates:
            return AppSession(candidates, True, self.strict)
        candidates = self.by_port.get((proto, sport))
        if candidates:
            return AppSession(candidates, False, self.strict)
        return None
