"""An insider in a normal capture: the plant's own HMI starts writing registers, fast.

From a normal capture in which one HMI polls one PLC, :func:`write_insider` writes a copy with a
burst spliced in: for ``seconds`` from ``start_after`` seconds into the capture, the same HMI
opens a new connection to the same PLC and writes holding registers it never wrote (Modbus
function 16, never used by it) at a given rate (the test asks for twenty times its learned
polling rate), each write answered by the PLC. Nothing else changes: the addresses, MACs and
the normal polling are the capture's.
Packets are built with scapy; the TCP sequence numbers are coherent, so the sensor reassembles
the connection as it would a real one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import PcapWriter, RawPcapReader

CLIENT_PORT = 50_123
WRITTEN_FIRST = 100   # holding registers 100-103: never written in the normal capture
WRITTEN_COUNT = 4


@dataclass(frozen=True, slots=True)
class Insider:
    """Where the burst is: its first and last packet, in epoch seconds."""

    start: float
    end: float
    writes: int


@dataclass(frozen=True, slots=True)
class _Ends:
    client_mac: str
    server_mac: str
    client: str
    server: str


def write_insider(normal: Path, out: Path, client: str, server: str, rate: float,
                  start_after: float = 300.0, seconds: float = 30.0) -> Insider:
    """``rate``: the burst's writes per second."""
    frames = [(data, meta.sec + meta.usec / 1e6) for data, meta in RawPcapReader(str(normal))]
    ends = _ends(frames, client, server)
    burst = _burst(ends, frames[0][1] + start_after, seconds, rate)
    merged = sorted([*frames, *burst], key=lambda frame: frame[1])
    with PcapWriter(str(out), linktype=1) as writer:
        writer.write_header(None)
        for data, ts in merged:
            writer.write_packet(data, sec=int(ts), usec=round((ts - int(ts)) * 1e6))
    return Insider(burst[0][1], burst[-1][1], (len(burst) - 6) // 2)


def _ends(frames: list[tuple[bytes, float]], client: str, server: str) -> _Ends:
    for data, _ in frames:
        packet = Ether(data)
        if IP in packet and packet[IP].src == client and packet[IP].dst == server:
            return _Ends(packet.src, packet.dst, client, server)
    raise ValueError(f"no packet from {client} to {server} in the capture")


def _burst(ends: _Ends, start: float, seconds: float, rate: float) -> list[tuple[bytes, float]]:
    """Handshake, ``rate`` writes a second (each answered), close."""
    client_seq, server_seq = 1_000, 9_000
    out = _handshake(ends, start, client_seq, server_seq)
    client_seq, server_seq = client_seq + 1, server_seq + 1
    writes = int(seconds * rate)
    for i in range(writes):
        ts = start + 0.01 + i / rate
        request = _write_request(i, 3000 + (i * 37) % 1000)
        response = _write_response(i)
        out.append((_segment(ends, True, client_seq, server_seq, "PA", request), ts))
        client_seq += len(request)
        out.append((_segment(ends, False, server_seq, client_seq, "PA", response), ts + 0.002))
        server_seq += len(response)
    close = out[-1][1] + 0.01
    out.append((_segment(ends, True, client_seq, server_seq, "FA", b""), close))
    out.append((_segment(ends, False, server_seq, client_seq + 1, "FA", b""), close + 0.001))
    out.append((_segment(ends, True, client_seq + 1, server_seq + 1, "A", b""), close + 0.002))
    return out


def _handshake(ends: _Ends, start: float, client_seq: int,
               server_seq: int) -> list[tuple[bytes, float]]:
    return [(_segment(ends, True, client_seq, 0, "S", b""), start),
            (_segment(ends, False, server_seq, client_seq + 1, "SA", b""), start + 0.001),
            (_segment(ends, True, client_seq + 1, server_seq + 1, "A", b""), start + 0.002)]


def _segment(ends: _Ends, from_client: bool, seq: int, ack: int, flags: str,
             payload: bytes) -> bytes:
    if from_client:
        ether, ip = Ether(src=ends.client_mac, dst=ends.server_mac), IP(src=ends.client,
                                                                          dst=ends.server)
        tcp = TCP(sport=CLIENT_PORT, dport=502, seq=seq, ack=ack, flags=flags)
    else:
        ether, ip = Ether(src=ends.server_mac, dst=ends.client_mac), IP(src=ends.server,
                                                                          dst=ends.client)
        tcp = TCP(sport=502, dport=CLIENT_PORT, seq=seq, ack=ack, flags=flags)
    return bytes(ether / ip / tcp / payload)


def _write_request(transaction: int, value: int) -> bytes:
    """Write Multiple Registers (16) of holding registers 100-103."""
    values = [value + k for k in range(WRITTEN_COUNT)]
    pdu = struct.pack(">BHHB", 16, WRITTEN_FIRST, WRITTEN_COUNT, 2 * WRITTEN_COUNT)
    pdu += struct.pack(f">{WRITTEN_COUNT}H", *values)
    return _mbap(transaction, pdu)


def _write_response(transaction: int) -> bytes:
    return _mbap(transaction, struct.pack(">BHH", 16, WRITTEN_FIRST, WRITTEN_COUNT))


def _mbap(transaction: int, pdu: bytes) -> bytes:
    """Modbus/TCP header (transaction, protocol 0, length, unit 1) before ``pdu``."""
    return struct.pack(">HHHB", transaction & 0xFFFF, 0, len(pdu) + 1, 1) + pdu
