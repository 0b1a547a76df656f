"""Which MAC addresses are a host's own, and which a gateway's.

A frame carries the MAC of its last hop: every address behind a router arrives with the
router's MAC. A MAC seen with more than :data:`SHARED_AFTER` addresses is therefore taken for a
gateway's (a router, a NAT, a proxy-ARP firewall): it names none of those hosts, so it moves
from their ``macs`` to their ``gateway_macs`` and gives them no vendor. The records that got
the MAC before it was found shared are corrected by a change that names it a gateway's.

>>> from pipelines.assets.model import fold
>>> from pipelines.assets.observe import Sighting
>>> owners = MacOwners(shared_after=2)
>>> changes = owners.sift(fold([Sighting(f"10.9.0.{n}", "2026-01-01T00:00:00.000000Z",
...                                      mac="00-0E-8C-01-02-03") for n in (1, 2, 3)]))
>>> [(ip, a["macs"], a["gateway_macs"], a["vendor"]) for ip, a in sorted(changes.items())][0]
('10.9.0.1', [], ['00-0E-8C-01-02-03'], None)
"""

from __future__ import annotations

from pipelines.assets.model import Asset, derive, new_asset

SHARED_AFTER = 4
"""Addresses one host's MAC may carry (IPv4, IPv6 link-local, global and temporary)."""
MAX_TRACKED = 100_000
"""MACs whose addresses are remembered; the least recently new are forgotten first."""


class MacOwners:
    """Remembers the addresses each MAC was seen with, up to the point it is found shared.

    Memory is bounded: at most ``max_tracked`` MACs with ``shared_after`` addresses each, and
    ``max_tracked`` gateway MACs."""

    def __init__(self, shared_after: int = SHARED_AFTER, max_tracked: int = MAX_TRACKED) -> None:
        self.shared_after = shared_after
        self.max_tracked = max_tracked
        self.addresses: dict[str, dict[str, str]] = {}    # MAC → {address: a time it was seen}
        self.gateways: dict[str, None] = {}                # MACs found shared, oldest first

    def sift(self, changes: dict[str, Asset]) -> dict[str, Asset]:
        """The asset changes of a batch with gateway MACs moved off their ``macs``, plus the
        changes that correct the addresses that got a MAC before it was found shared."""
        for ip, asset in list(changes.items()):
            for mac in asset["macs"]:
                for known_ip, at in self._see(mac, ip, asset["first_seen"]):
                    _mark(changes.setdefault(known_ip, new_asset(known_ip, at)), mac)
        for asset in changes.values():
            for mac in [mac for mac in asset["macs"] if mac in self.gateways]:
                _mark(asset, mac)
        return changes

    def _see(self, mac: str, ip: str, at: str) -> list[tuple[str, str]]:
        """Note ``ip`` for ``mac``; when that makes the MAC shared, the addresses seen with it
        before, with a time each was seen."""
        if mac in self.gateways:
            return []
        known = self.addresses.get(mac)
        if known is None:
            known = self.addresses[mac] = {}
            _bound(self.addresses, self.max_tracked)
        known.setdefault(ip, at)
        if len(known) <= self.shared_after:
            return []
        del self.addresses[mac]
        self.gateways[mac] = None
        _bound(self.gateways, self.max_tracked)
        return [(known_ip, seen) for known_ip, seen in known.items() if known_ip != ip]


def _mark(asset: Asset, mac: str) -> None:
    if mac not in asset["gateway_macs"]:
        asset["gateway_macs"].append(mac)
    asset["vendor"] = None      # derived again without the gateway's MAC
    derive(asset)


def _bound(table: dict[str, object], limit: int) -> None:
    while len(table) > limit:
        del table[next(iter(table))]
