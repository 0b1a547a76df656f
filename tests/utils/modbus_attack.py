"""A crafted Modbus/TCP attack capture: one client identifies a PLC, writes its registers, then
forces it into listen-only mode — discovery, command, impact between the same two hosts.

Made with scapy so the test shows exactly what it replays; each PDU is written out in bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

ATTACKER, PLC = "10.20.0.66", "10.20.1.10"
START = 1_700_000_000.0          # 2023-11-14T22:13:20Z
STEP_S = 20.0

DEVICE_ID_REQUEST = bytes([0x2B, 0x0E, 0x01, 0x00])          # read device id, basic, object 0
DEVICE_ID_RESPONSE = bytes([0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x03]) + b"ACM"
WRITE_REQUEST = bytes([0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x64, 0x00, 0xC8])
WRITE_RESPONSE = bytes([0x10, 0x00, 0x00, 0x00, 0x02])        # registers 0-1 written
LISTEN_ONLY_REQUEST = bytes([0x08, 0x00, 0x04, 0x00, 0x00])   # diagnostics 4: force listen only


def mbap(transaction: int, pdu: bytes, unit: int = 1) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


class _Session:
    """One TCP connection, its sequence numbers kept as segments go either way."""

    def __init__(self, client_port: int = 49152) -> None:
        self.port = client_port
        self.seq = {True: 1000, False: 5000}       # to_server → next sequence number
        self.packets: list[Packet] = []

    def segment(self, to_server: bool, at: float, flags: str = "PA", data: bytes = b"") -> None:
        src, dst = (ATTACKER, PLC) if to_server else (PLC, ATTACKER)
        sport, dport = (self.port, 502) if to_server else (502, self.port)
        tcp = TCP(sport=sport, dport=dport, flags=flags, seq=self.seq[to_server],
                  ack=self.seq[not to_server] if "A" in flags else 0)
        packet = Ether() / IP(src=src, dst=dst) / tcp / (Raw(data) if data else b"")
        packet.time = at
        self.packets.append(packet)
        self.seq[to_server] += len(data) + (1 if "S" in flags or "F" in flags else 0)

    def open(self, at: float) -> None:
        self.segment(True, at, "S")
        self.segment(False, at + 0.001, "SA")
        self.segment(True, at + 0.002, "A")


def write_attack(path: Path) -> Path:
    """The attack capture at ``path``."""
    session = _Session()
    session.open(START)
    exchanges = [(DEVICE_ID_REQUEST, DEVICE_ID_RESPONSE), (WRITE_REQUEST, WRITE_RESPONSE),
                 (LISTEN_ONLY_REQUEST, None)]
    for number, (request, response) in enumerate(exchanges, start=1):
        at = START + number * STEP_S
        session.segment(True, at, data=mbap(number, request))
        if response is not None:
            session.segment(False, at + 0.01, data=mbap(number, response))
    wrpcap(str(path), session.packets)
    return path
