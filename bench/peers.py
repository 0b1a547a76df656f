"""The Python peers that ``bench/run.py`` times, each run as its own process.

    python -m bench.peers dpkt CAPTURE       # plain dpkt decode loop
    python -m bench.peers nfstream CAPTURE   # NFStream flow metering, GTP tunnels decoded

Each prints one JSON line: ``packets``, ``flows`` and details.

- ``dpkt``: read every frame, parse Ethernet/IP/TCP/UDP/SCTP with dpkt, and for GTP-U (UDP 2152,
  G-PDU) walk the GTP header and its extension headers and parse the inner IPv4/IPv6 packet.
  ``flows`` is the number of distinct bidirectional 5-tuples (inner ones for GTP-U; later IP
  fragments left out), without timeouts: a reference for the flow counts of the others.
- ``nfstream``: ``NFStreamer(decode_tunnels=True)`` with Liaowang's default idle and active
  timeouts and one meter; everything else at NFStream's defaults (nDPI dissection on).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import dpkt

GTPU_PORT = 2152
Endpoint = tuple[bytes, int]
FlowKey = tuple[int, Endpoint, Endpoint]


def gtpu_payload(data: bytes) -> bytes | None:
    """The T-PDU of a GTPv1-U G-PDU, past the optional fields and extension headers."""
    if len(data) < 8 or data[0] >> 5 != 1 or data[1] != 0xFF:
        return None
    at, next_type = 8, 0
    if data[0] & 0x07:
        if len(data) < 12:
            return None
        at, next_type = 12, data[11]
    while next_type:
        length = data[at] * 4 if at < len(data) else 0
        if not length or at + length > len(data):
            return None
        next_type, at = data[at + length - 1], at + length
    return data[at:]


def parse_ip(data: bytes) -> dpkt.Packet | None:
    version = data[0] >> 4 if data else 0
    if version == 4:
        return dpkt.ip.IP(data)
    if version == 6:
        return dpkt.ip6.IP6(data)
    return None


def flow_key(ip: dpkt.Packet) -> FlowKey | None:
    """Bidirectional 5-tuple; None for a later fragment (its transport header is elsewhere)."""
    proto = getattr(ip, "p", None) or ip.nxt   # IP6.p: the protocol after extension headers
    segment = ip.data
    if proto in (6, 17, 132) and isinstance(segment, bytes):
        return None
    ports = (getattr(segment, "sport", 0), getattr(segment, "dport", 0))
    a, b = (bytes(ip.src), ports[0]), (bytes(ip.dst), ports[1])
    return (proto, a, b) if a <= b else (proto, b, a)


def dpkt_loop(path: str) -> dict[str, Any]:
    packets, malformed, tunnelled = 0, 0, 0
    flows: set[FlowKey] = set()
    with open(path, "rb") as handle:
        for _ts, frame in dpkt.pcap.UniversalReader(handle):
            packets += 1
            try:
                ip, inner = _innermost(dpkt.ethernet.Ethernet(frame).data)
            except (dpkt.UnpackError, ValueError, IndexError):
                malformed += 1
                continue
            key = flow_key(ip) if ip is not None else None
            tunnelled += inner
            if key is not None:
                flows.add(key)
    return {"packets": packets, "flows": len(flows), "tunnelled_packets": tunnelled,
            "malformed": malformed}


def _innermost(ip: Any) -> tuple[dpkt.Packet | None, bool]:
    """The packet's IP layer, or the inner one of a GTP-U G-PDU (and whether it is inner)."""
    if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
        return None, False
    segment = ip.data
    if isinstance(segment, dpkt.udp.UDP) and GTPU_PORT in (segment.sport, segment.dport):
        payload = gtpu_payload(bytes(segment.data))
        inner = parse_ip(payload) if payload else None
        if inner is not None:
            return inner, True
    return ip, False


def nfstream_flows(path: str) -> dict[str, Any]:
    from nfstream import NFStreamer

    from liaowang.config import FlowSettings

    defaults = FlowSettings()
    streamer = NFStreamer(source=path, decode_tunnels=True, n_meters=1,
                          idle_timeout=int(defaults.idle_timeout),
                          active_timeout=int(defaults.active_timeout))
    flows, packets = 0, 0
    transports: Counter[int] = Counter()
    tunnelled = 0
    for flow in streamer:
        flows += 1
        packets += flow.bidirectional_packets
        transports[flow.protocol] += 1
        tunnelled += flow.tunnel_id != 0
    return {"packets": packets, "flows": flows, "tunnelled_flows": tunnelled,
            "flows_by_ip_protocol": dict(transports),
            "idle_timeout": defaults.idle_timeout, "active_timeout": defaults.active_timeout}


PEERS = {"dpkt": dpkt_loop, "nfstream": nfstream_flows}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in PEERS:
        print(f"usage: python -m bench.peers {{{','.join(PEERS)}}} CAPTURE", file=sys.stderr)
        return 2
    print(json.dumps(PEERS[args[0]](args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
