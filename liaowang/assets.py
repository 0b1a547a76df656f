"""Assets and zones: which configured host or network segment an address belongs to.

Detection (risk scores) and the pipelines (enrichment) both ask the same question of every
event, twice: what is this address? :class:`AssetMap` answers it by longest-prefix match over
the configured assets (single addresses or networks) and zones (networks), and remembers its
answers, because a network carries the same few hundred addresses over and over.

Criticality is 1 (negligible) to 5 (critical); the words ``low``, ``medium``, ``high`` and
``critical`` stand for 2, 3, 4 and 5. A zone without a criticality of its own takes the one its
kind implies (:data:`KIND_CRITICALITY`).

>>> plc = Asset("plc-1", "10.0.0.5/32", criticality=5, role="plc", zone="cell-1")
>>> cell = Zone("cell-1", ("10.0.0.0/24",), kind="ot")
>>> where = AssetMap([plc], [cell]).lookup("10.0.0.5")
>>> where.asset.name, where.zone.name, where.zone.level
('plc-1', 'cell-1', 5)
>>> AssetMap([plc], [cell]).lookup("10.0.0.9").asset is None
True
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

CRITICALITY_WORDS = {"low": 2, "medium": 3, "high": 4, "critical": 5}
ZoneKind = Literal["ot", "5gc", "ran", "it", "dmz"]
# What a zone's kind says of its criticality when it does not say it itself: control networks
# and the 5G core run the physical process and the mobile service; the office network less so.
KIND_CRITICALITY = {"ot": 5, "5gc": 5, "ran": 4, "dmz": 3, "it": 2}
LOOKUP_CACHE = 65_536

T = TypeVar("T")


def criticality_level(value: int | str) -> int:
    """1-5 from a number or one of the words; :class:`ValueError` for anything else.

    >>> criticality_level("high"), criticality_level(1)
    (4, 1)
    """
    if isinstance(value, str) and not value.isdigit():
        level = CRITICALITY_WORDS.get(value.lower())
        if level is None:
            raise ValueError(f"criticality {value!r}: use 1-5 or {', '.join(CRITICALITY_WORDS)}")
        return level
    level = int(value)
    if not 1 <= level <= 5:
        raise ValueError(f"criticality {value}: use 1-5 or {', '.join(CRITICALITY_WORDS)}")
    return level


@dataclass(frozen=True, slots=True)
class Asset:
    """One host (a ``/32`` or ``/128``) or a group of hosts (a wider network)."""

    name: str
    network: str
    criticality: int = 3
    role: str | None = None
    zone: str | None = None
    tags: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        """The event fields under ``source.asset`` / ``destination.asset``."""
        found: dict[str, Any] = {"name": self.name, "criticality": self.criticality}
        if self.role:
            found["role"] = self.role
        if self.tags:
            found["tags"] = list(self.tags)
        return found


@dataclass(frozen=True, slots=True)
class Zone:
    """A network segment: its networks, its kind and how much it matters."""

    name: str
    networks: tuple[str, ...]
    kind: str = "it"
    criticality: int | None = None

    @property
    def level(self) -> int:
        return self.criticality or KIND_CRITICALITY.get(self.kind, 3)

    def fields(self) -> dict[str, Any]:
        """The event fields ``zone``, ``zone_kind`` and ``zone_criticality`` of an endpoint."""
        return {"zone": self.name, "zone_kind": self.kind, "zone_criticality": self.level}


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an address is: its asset and its zone, each ``None`` when not configured, and the
    endpoint fields that say so (made once per address, as lookups are cached)."""

    asset: Asset | None = None
    zone: Zone | None = None
    fields: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, asset: Asset | None, zone: Zone | None) -> Placement:
        found = {"asset": asset.fields()} if asset else {}
        return cls(asset, zone, found | (zone.fields() if zone else {}))

    @property
    def known(self) -> bool:
        return self.asset is not None or self.zone is not None


NOWHERE = Placement()


@dataclass(slots=True)
class PrefixTable(Generic[T]):
    """Longest-prefix match of addresses against networks (IPv4 and IPv6 apart).

    One dictionary per (version, prefix length); a lookup tries the lengths present, longest
    first, so it costs a few dictionary probes whatever the number of networks.

    >>> table = PrefixTable[str]()
    >>> table.add("10.0.0.0/8", "wide"); table.add("10.1.0.0/16", "narrow")
    >>> table.match("10.1.2.3"), table.match("10.2.0.1"), table.match("192.0.2.1")
    ('narrow', 'wide', None)
    """

    _by_length: dict[tuple[int, int], dict[int, T]] = field(default_factory=dict)
    _lengths: dict[int, list[int]] = field(default_factory=dict)

    def add(self, network: str, value: T) -> None:
        """Map ``network`` (CIDR or a bare address) to ``value``; the first value for a network
        stays."""
        net = ipaddress.ip_network(network, strict=False)
        slot = self._by_length.setdefault((net.version, net.prefixlen), {})
        slot.setdefault(int(net.network_address), value)
        self._lengths[net.version] = sorted({length for version, length in self._by_length
                                             if version == net.version}, reverse=True)

    def match(self, address: str) -> T | None:
        """The value of the longest network holding ``address``; ``None`` also for text that is
        not an address."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        return self.match_ip(ip)

    def match_ip(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> T | None:
        number, width = int(ip), ip.max_prefixlen
        for length in self._lengths.get(ip.version, ()):
            masked = number >> (width - length) << (width - length) if length else 0
            hit = self._by_length[(ip.version, length)].get(masked)
            if hit is not None:
                return hit
        return None

    def __len__(self) -> int:
        return sum(len(slot) for slot in self._by_length.values())


class AssetMap:
    """Addresses to :class:`Placement`: the asset by longest prefix, its zone by name (or, for
    an address outside every asset or an asset without a zone, the zone by longest prefix)."""

    def __init__(self, assets: Iterable[Asset] = (), zones: Iterable[Zone] = ()) -> None:
        self.assets: tuple[Asset, ...] = tuple(assets)
        self.zones: tuple[Zone, ...] = tuple(zones)
        self._zones_by_name = {zone.name: zone for zone in self.zones}
        self._asset_table: PrefixTable[Asset] = PrefixTable()
        self._zone_table: PrefixTable[Zone] = PrefixTable()
        for asset in self.assets:
            self._asset_table.add(asset.network, asset)
        for zone in self.zones:
            for network in zone.networks:
                self._zone_table.add(network, zone)
        self.lookup = lru_cache(maxsize=LOOKUP_CACHE)(self._lookup)

    def __bool__(self) -> bool:
        return bool(self.assets or self.zones)

    def _lookup(self, address: str) -> Placement:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return NOWHERE
        asset = self._asset_table.match_ip(ip)
        zone = self._zones_by_name.get(asset.zone) if asset and asset.zone else None
        if zone is None:
            zone = self._zone_table.match_ip(ip)
        if asset is None and zone is None:
            return NOWHERE
        return Placement.of(asset, zone)
