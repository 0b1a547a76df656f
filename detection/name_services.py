"""Local name-service chatter: something every host on a LAN does, not a relationship of its own.

Windows and many embedded stacks look up names and announce themselves by broadcast or
multicast (NetBIOS name service udp/137, NetBIOS datagrams and browser announcements udp/138,
mDNS udp/5353, LLMNR udp/5355), and the owner of a name answers by unicast. Timers, reboots
and browser elections decide when, and which of these, a host sends; what the plant is doing
does not. So a training period of minutes or days catches them only by chance. A baseline that
treated each (host, name service) as a learned relationship would alert on a known workstation
whenever its browser role changed, and analysts learn to ignore such alerts.

A baseline therefore lets a flow of one of its ``name_services`` pass when both ends are
*hosts it already knows* (an address of any of its pairs), a multicast group or the limited
broadcast address counting as known. Three things stay news: a host the baseline never saw
(a new device on the segment announcing itself), a known host talking to a stranger, and the
session that follows a lookup (NetBIOS session tcp/139, SMB tcp/445), which is an ordinary
service. The list is part of the baseline file, so the person who approves the baseline sees
what it waives and can shorten it.

>>> flow = {"event": {"dataset": "flow"}, "network": {"transport": "udp"},
...         "source": {"ip": "10.0.0.4", "port": 137},
...         "destination": {"ip": "10.0.0.255", "port": 137}}
>>> name_service(flow, NAME_SERVICES)
'udp/137'
>>> group_address("224.0.0.251"), group_address("255.255.255.255"), group_address("10.0.0.9")
(True, True, False)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from detection.operations import Event
from liaowang.events import get_field

NAME_SERVICES = ("udp/137", "udp/138", "udp/5353", "udp/5355")


def name_service(event: Event, services: Iterable[str]) -> str | None:
    """The name service a flow carries, on either of its ports (a reply comes *from* the
    service port), or None for anything else."""
    if get_field(event, "event.dataset") != "flow":
        return None
    transport = get_field(event, "network.transport")
    wanted = set(services)
    for side in ("destination", "source"):
        service = f"{transport}/{get_field(event, f'{side}.port')}"
        if service in wanted:
            return service
    return None


def group_address(address: str) -> bool:
    """Whether ``address`` names a group rather than a host (multicast, limited broadcast).

    A directed broadcast (``192.168.1.255``) cannot be told from a host without the netmask;
    it counts as known once any host of the training period sent to it.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255")


def known_hosts(pair_keys: Iterable[str]) -> frozenset[str]:
    """Every address at either end of the baseline's ``"client -> server"`` pairs."""
    return frozenset(host for key in pair_keys for host in key.split(" -> "))
