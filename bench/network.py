"""Who talks to whom: PDU sessions behind gNB/UPF pairs, servers, and hosts of a plain LAN.

Each UE owns one PDU session (IPv4, or IPv6 for a share of them) with its own uplink and downlink
TEIDs on one gNB/UPF pair. Every new flow takes the next ephemeral port of its client, so no two
flows share a 5-tuple. Addresses come from the documentation and private ranges.

>>> net = Network(random.Random(1), sessions=4, lan_hosts=2)
>>> flow = net.flow(17, 53, 9, tunnelled=True)
>>> flow.tunnel is not None, flow.server_port
(True, 53)
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from bench.frames import FlowSpec, Tunnel

GNBS = tuple(bytes((10, 10, 0, i)) for i in range(1, 9))
UPFS = tuple(bytes((10, 20, 0, i)) for i in range(1, 3))
SERVER_NETS = ((192, 0, 2), (198, 51, 100), (203, 0, 113))
RESOLVERS = {4: bytes((198, 51, 100, 53)), 16: ipaddress.IPv6Address("2001:db8:53::53").packed}


@dataclass(slots=True)
class Host:
    address: bytes
    next_port: int
    tunnel: Tunnel | None = None

    def take_port(self) -> int:
        port = self.next_port
        self.next_port = 32768 + (port + 1 - 32768) % 28000
        return port


class Network:
    def __init__(self, rng: random.Random, sessions: int, lan_hosts: int,
                 ipv6_share: float = 0.1) -> None:
        self.rng = rng
        teids = rng.sample(range(1, 1 << 32), 2 * sessions)
        self.ues = [self._ue(i, teids[2 * i], teids[2 * i + 1], ipv6_share)
                    for i in range(sessions)]
        self.lan = [Host(bytes((192, 168, 10 + i // 250, 1 + i % 250)), self._port())
                    for i in range(lan_hosts)]
        self.servers = {4: [bytes((*rng.choice(SERVER_NETS), rng.randint(1, 254)))
                            for _ in range(600)],
                        16: [ipaddress.IPv6Address(f"2001:db8:5e::{rng.randint(1, 65535):x}").packed
                             for _ in range(200)]}

    @property
    def tunnels(self) -> int:
        return len({(ue.tunnel.gnb, ue.tunnel.upf) for ue in self.ues if ue.tunnel})

    def flow(self, proto: int, server_port: int, qfi: int, *, tunnelled: bool) -> FlowSpec:
        host = self.rng.choice(self.ues if tunnelled else self.lan)
        family = len(host.address)
        server = (RESOLVERS[family] if server_port == 53
                  else self.rng.choice(self.servers[family]))
        return FlowSpec(proto, host.address, server, host.take_port(), server_port, qfi,
                        host.tunnel)

    def _ue(self, index: int, ul_teid: int, dl_teid: int, ipv6_share: float) -> Host:
        if self.rng.random() < ipv6_share:
            address = ipaddress.IPv6Address(f"2001:db8:cafe:{index:x}::1").packed
        else:
            address = bytes((10, 45, (index + 2) >> 8 & 0xFF, (index + 2) & 0xFF))
        tunnel = Tunnel(self.rng.choice(GNBS), self.rng.choice(UPFS), ul_teid, dl_teid)
        return Host(address, self._port(), tunnel)

    def _port(self) -> int:
        return self.rng.randint(32768, 60767)
