"""Asset and zone of each endpoint, from the configuration, added to events before the sinks.

An event whose ``source.ip`` (or ``destination.ip``) is configured gets ``source.asset.*``
(name, role, criticality, tags) and ``source.zone`` (its name), ``source.zone_kind`` and
``source.zone_criticality``; addresses that
are not configured get nothing, so an event carries these fields only where they say something.
:func:`asset_map` is the one place that turns the configuration into the lookup that detection
(the risk scores of fusion) shares.
"""

from __future__ import annotations

from liaowang.assets import Asset, AssetMap, Zone
from liaowang.config import Settings
from pipelines.sinks.base import Event

ENDPOINTS = ("source", "destination")


def asset_map(settings: Settings) -> AssetMap:
    """The configured ``assets:`` and ``zones:`` as a lookup (empty when none are)."""
    assets = [Asset(a.name, a.network, a.criticality, a.role, a.zone, a.tags)
              for a in settings.assets]
    zones = [Zone(z.name, z.cidrs, z.kind, z.criticality) for z in settings.zones]
    return AssetMap(assets, zones)


class AssetEnrichment:
    """The enrichment step; ``__call__`` changes a batch in place and returns it."""

    def __init__(self, assets: AssetMap) -> None:
        self.assets = assets

    def __call__(self, events: list[Event]) -> list[Event]:
        lookup = self.assets.lookup
        for event in events:
            for side in ENDPOINTS:
                endpoint = event.get(side)
                if endpoint and (address := endpoint.get("ip")):
                    known = lookup(address).fields
                    if known:
                        endpoint.update(known)
                        if "asset" in known:   # each event its own copy: later steps may edit
                            endpoint["asset"] = dict(known["asset"])
        return events
