"""Write the bundled demo capture (``demo.pcap``): a small plant network, made from scratch.

An HMI polls two PLCs over Modbus/TCP every second; an engineering station writes a setpoint now
and then; one unknown host scans the PLCs' Modbus port and sends a bad request. Run it again after
changing it: ``python -m sensor.demo.make_demo_pcap``.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import dpkt

OUT = Path(__file__).with_name("demo.pcap")
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HMI, PLC1, PLC2, ENG, SCANNER = "10.10.1.10", "10.10.2.21", "10.10.2.22", "10.10.1.50", "10.10.9.66"
MACS = {HMI: "02:00:0a:0a:01:0a", PLC1: "00:0e:8c:0a:02:15", PLC2: "00:80:f4:0a:02:16",
        ENG: "02:00:0a:0a:01:32", SCANNER: "02:00:0a:0a:09:42"}


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def _ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


class TcpConversation:
    """One TCP connection, with real sequence numbers, written as frames."""

    def __init__(self, frames: list, client: str, server: str, sport: int, dport: int) -> None:
        self.frames, self.client, self.server = frames, client, server
        self.sport, self.dport = sport, dport
        self.seq = {client: random.getrandbits(32), server: random.getrandbits(32)}

    def send(self, ts: float, sender: str, flags: int, payload: bytes = b"") -> None:
        receiver = self.server if sender == self.client else self.client
        forward = sender == self.client
        sport, dport = (self.sport, self.dport) if forward else (self.dport, self.sport)
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=self.seq[sender], flags=flags,
                           ack=self.seq[receiver] if flags & dpkt.tcp.TH_ACK else 0,
                           win=8192, data=payload)
        ip = dpkt.ip.IP(src=_ip(sender), dst=_ip(receiver), p=6, ttl=64, data=tcp)
        ip.len = len(ip)
        eth = dpkt.ethernet.Ethernet(src=_mac(MACS[sender]), dst=_mac(MACS[receiver]), data=ip)
        self.frames.append((ts, bytes(eth)))
        grow = len(payload) + (1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)
        self.seq[sender] = (self.seq[sender] + grow) % (1 << 32)

    def open(self, ts: float) -> None:
        self.send(ts, self.client, dpkt.tcp.TH_SYN)
        self.send(ts + 0.0004, self.server, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)
        self.send(ts + 0.0006, self.client, dpkt.tcp.TH_ACK)

    def close(self, ts: float) -> None:
        self.send(ts, self.client, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
        self.send(ts + 0.0004, self.server, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
        self.send(ts + 0.0006, self.client, dpkt.tcp.TH_ACK)

    def exchange(self, ts: float, request: bytes, response: bytes) -> None:
        push_ack = dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK
        self.send(ts, self.client, push_ack, request)
        self.send(ts + 0.003, self.server, push_ack, response)


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def poll(conv: TcpConversation, ts: float, tid: int, unit: int) -> None:
    registers = [random.randint(180, 220) for _ in range(10)]
    conv.exchange(ts, mbap(tid, unit, struct.pack(">BHH", 3, 0, 10)),
                  mbap(tid, unit, struct.pack(">BB", 3, 20) + struct.pack(">10H", *registers)))
    conv.exchange(ts + 0.2, mbap(tid + 1, unit, struct.pack(">BHH", 1, 0, 16)),
                  mbap(tid + 1, unit, bytes([1, 2, random.getrandbits(8), 0])))


def build() -> list[tuple[float, bytes]]:
    random.seed(104)
    frames: list[tuple[float, bytes]] = []
    links = [TcpConversation(frames, HMI, plc, 49200 + i, 502)
             for i, plc in enumerate((PLC1, PLC2))]
    for link in links:
        link.open(START)
    for second in range(60):
        for unit, link in enumerate(links, start=1):
            poll(link, START + 1 + second + unit * 0.05, 2 * second + 1, unit)
    eng = TcpConversation(frames, ENG, PLC1, 50311, 502)
    eng.open(START + 20)
    eng.exchange(START + 20.5, mbap(7, 1, struct.pack(">BHH", 6, 40, 250)),
                 mbap(7, 1, struct.pack(">BHH", 6, 40, 250)))
    eng.exchange(START + 21, mbap(8, 1, struct.pack(">BHH", 5, 3, 0xFF00)),
                 mbap(8, 1, bytes([0x85, 2])))
    eng.close(START + 22)
    for port, plc in ((40001, PLC1), (40002, PLC2)):
        probe = TcpConversation(frames, SCANNER, plc, port, 502)
        probe.open(START + 40)
        device_id = bytes([43, 14, 1, 0])
        probe.exchange(START + 40.1, mbap(1, 0, device_id), mbap(1, 0, bytes([0xAB, 1])))
        diagnostics = bytes([8, 0, 1, 0, 0])
        probe.exchange(START + 40.2, mbap(2, 0, diagnostics), mbap(2, 0, bytes([0x88, 1])))
        probe.close(START + 41)
    for link in links:
        link.close(START + 62)
    return sorted(frames, key=lambda frame: frame[0])


def main() -> None:
    with OUT.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        for ts, frame in build():
            writer.writepkt(frame, ts)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
