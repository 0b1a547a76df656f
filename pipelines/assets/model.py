"""Asset records: plain JSON documents, one per IP address, folded from sightings and merged.

A record::

    {"ip": "10.0.0.9", "macs": ["00-0E-8C-01-02-03"], "vendor": "Siemens AG",
     "gateway_macs": ["00-00-5E-00-01-01"],
     "first_seen": "...Z", "last_seen": "...Z", "events": 12,
     "protocols": {"modbus": 12}, "protocol_names": ["modbus"], "roles": ["plc"], "zone": "ot",
     "configured": {"name": "plc-1", "zone": "cell-1", "zone_kind": "ot", "criticality": 5},
     "fingerprints": {"modbus": {"vendor_name": "...", "product_code": "..."}},
     "peers": {"10.0.0.5": {"count": 12, "protocols": {"modbus": 12}, "last_seen": "...Z"}},
     "risk": {"alerts": 1, "max_severity": 3, "score": 73}}

Merging is associative and keeps every count, so a sink can send the changes of a batch and
the store add them to what it holds. Bounded: at most :data:`MAX_PEERS` peers (the busiest
kept) and :data:`MAX_MACS` MAC addresses per asset. ``gateway_macs`` are the MACs the address
was seen with that belong to a gateway, not to the host (:mod:`pipelines.assets.macs`); they are
never among its ``macs`` and never name its vendor.

>>> from pipelines.assets.observe import Sighting
>>> a = fold([Sighting("10.0.0.9", "2026-01-01T00:00:02.000000Z", "10.0.0.5", "modbus",
...                    role="plc")])["10.0.0.9"]
>>> b = fold([Sighting("10.0.0.9", "2026-01-01T00:00:01.000000Z", alert=(3, 73))])["10.0.0.9"]
>>> merged = merge_assets(a, b)
>>> merged["first_seen"], merged["roles"], merged["zone"], merged["risk"]
('2026-01-01T00:00:01.000000Z', ['plc'], 'ot', {'alerts': 1, 'max_severity': 3, 'score': 73})
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipelines.assets.observe import Sighting
from pipelines.assets.vendors import mac_vendor

Asset = dict[str, Any]

MAX_PEERS = 200
MAX_MACS = 8
ZONES = ("it", "ot", "5gc", "ran", "dmz")   # the zone kinds of the configuration
OT_PROTOCOLS = frozenset({"modbus", "dnp3", "s7comm", "s7comm-plus", "iec104", "enip", "opcua",
                          "bacnet"})
CORE_PROTOCOLS = frozenset({"ngap", "nas5gs", "pfcp", "sbi", "diameter", "gtpv2", "gtpv1",
                            "gtpu"})
RAN_ROLES = frozenset({"gnb"})


def new_asset(ip: str, at: str) -> Asset:
    return {"ip": ip, "macs": [], "gateway_macs": [], "vendor": None, "first_seen": at,
            "last_seen": at, "events": 0, "protocols": {}, "protocol_names": [], "roles": [],
            "zone": "it", "configured": {}, "fingerprints": {}, "peers": {},
            "risk": {"alerts": 0, "max_severity": 0, "score": 0}}


def fold(sightings: Iterable[Sighting], into: dict[str, Asset] | None = None
         ) -> dict[str, Asset]:
    """Asset records by IP with the sightings added (``into`` is changed and returned)."""
    assets = {} if into is None else into
    for sighting in sightings:
        asset = assets.get(sighting.ip)
        if asset is None:
            asset = assets[sighting.ip] = new_asset(sighting.ip, sighting.at)
        _add(asset, sighting)
    for asset in assets.values():
        derive(asset)
    return assets


def _add(asset: Asset, sighting: Sighting) -> None:
    _seen(asset, sighting.at, sighting.at)
    if sighting.alert is not None:
        _add_alert(asset["risk"], *sighting.alert)
        return
    if sighting.fingerprint is not None:
        name, values = sighting.fingerprint
        asset["fingerprints"][name] = {**asset["fingerprints"].get(name, {}), **values}
        return
    asset["events"] += 1
    if sighting.protocol:
        _count(asset["protocols"], sighting.protocol, 1)
    if sighting.placement:
        asset["configured"] = {**asset["configured"], **sighting.placement}
        _add_role(asset, sighting.placement.get("role"))
    if sighting.mac and sighting.mac not in asset["macs"]:
        asset["macs"].append(sighting.mac)
    _add_role(asset, sighting.role)
    if sighting.peer and sighting.peer != asset["ip"]:
        _add_peer(asset["peers"], sighting)


def _add_role(asset: Asset, role: Any) -> None:
    if isinstance(role, str) and role and role not in asset["roles"]:
        asset["roles"].append(role)


def _seen(asset: Asset, first: str, last: str) -> None:
    asset["first_seen"] = min(asset["first_seen"], first)
    asset["last_seen"] = max(asset["last_seen"], last)


def _add_peer(peers: dict[str, Any], sighting: Sighting) -> None:
    peer = peers.setdefault(sighting.peer, {"count": 0, "protocols": {},
                                            "last_seen": sighting.at})
    peer["count"] += 1
    peer["last_seen"] = max(peer["last_seen"], sighting.at)
    if sighting.protocol:
        _count(peer["protocols"], sighting.protocol, 1)


def _add_alert(risk: dict[str, int], severity: int, score: int) -> None:
    risk["alerts"] += 1
    risk["max_severity"] = max(risk["max_severity"], severity)
    risk["score"] = max(risk["score"], score)


def merge_assets(old: Asset, new: Asset) -> Asset:
    """One record of a host holding both records' counts; the inputs are not changed. Newer
    fingerprint values win."""
    merged: Asset = {**old, "ip": old["ip"]}
    merged["first_seen"] = min(old["first_seen"], new["first_seen"])
    merged["last_seen"] = max(old["last_seen"], new["last_seen"])
    merged["events"] = old["events"] + new["events"]
    merged["macs"] = list(dict.fromkeys([*old["macs"], *new["macs"]]))
    merged["gateway_macs"] = list(dict.fromkeys([*old.get("gateway_macs", []),
                                                 *new.get("gateway_macs", [])]))
    merged["roles"] = sorted({*old["roles"], *new["roles"]})
    merged["protocols"] = _summed(old["protocols"], new["protocols"])
    merged["fingerprints"] = _fingerprints(old["fingerprints"], new["fingerprints"])
    merged["configured"] = {**old.get("configured", {}), **new.get("configured", {})}
    merged["peers"] = _merged_peers(old["peers"], new["peers"])
    merged["risk"] = _merged_risk(old["risk"], new["risk"])
    merged["vendor"] = None if new.get("gateway_macs") else old.get("vendor")
    derive(merged)
    return merged


def _merged_peers(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    peers = dict(old)
    for ip, peer in new.items():
        known = peers.get(ip)
        peers[ip] = peer if known is None else {
            "count": known["count"] + peer["count"],
            "protocols": _summed(known["protocols"], peer["protocols"]),
            "last_seen": max(known["last_seen"], peer["last_seen"])}
    return peers


def _merged_risk(old: dict[str, int], new: dict[str, int]) -> dict[str, int]:
    return {"alerts": old["alerts"] + new["alerts"],
            "max_severity": max(old["max_severity"], new["max_severity"]),
            "score": max(old["score"], new["score"])}


def _fingerprints(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for name, values in new.items():
        merged[name] = {**merged.get(name, {}), **values}
    return merged


def derive(asset: Asset) -> None:
    """The fields that follow from the others: bounds, own MACs, vendor, protocol names,
    zone."""
    gateways = asset.setdefault("gateway_macs", [])[:MAX_MACS]
    asset["gateway_macs"] = gateways
    asset["macs"] = [mac for mac in asset["macs"] if mac not in gateways][:MAX_MACS]
    asset["roles"] = sorted(asset["roles"])
    if len(asset["peers"]) > MAX_PEERS:
        busiest = sorted(asset["peers"].items(), key=lambda item: -item[1]["count"])
        asset["peers"] = dict(busiest[:MAX_PEERS])
    asset["vendor"] = asset.get("vendor") or _vendor(asset)
    asset["protocol_names"] = sorted(asset["protocols"])
    asset["zone"] = zone_of(asset)


def _vendor(asset: Asset) -> str | None:
    """The MAC's registered vendor, else the vendor a device identity names."""
    for mac in asset["macs"]:
        vendor = mac_vendor(mac)
        if vendor:
            return vendor
    for name in ("modbus", "enip", "bacnet"):
        vendor = asset["fingerprints"].get(name, {}).get("vendor_name")
        if isinstance(vendor, str) and not vendor.startswith("unknown-"):
            return vendor
    return None


def zone_of(asset: Asset) -> str:
    """The kind of the configured zone; else inferred: ``ran`` for radio nodes, ``ot`` for
    hosts speaking industrial protocols, ``5gc`` for 5G core interfaces, ``it`` for the rest."""
    configured = asset.get("configured", {}).get("zone_kind")
    if configured in ZONES:
        return str(configured)
    protocols = set(asset["protocols"])
    if RAN_ROLES & set(asset["roles"]):
        return "ran"
    if protocols & OT_PROTOCOLS:
        return "ot"
    return "5gc" if protocols & CORE_PROTOCOLS else "it"


def search_text(asset: Asset) -> str:
    """What a free-text asset search looks in, lower-cased: address, MACs, vendor, roles,
    protocols and the fingerprint values."""
    configured = asset.get("configured", {})
    parts = [asset["ip"], *asset["macs"], asset.get("vendor") or "", *asset["roles"],
             *asset["protocol_names"], str(configured.get("name", "")),
             str(configured.get("zone", ""))]
    for values in asset["fingerprints"].values():
        parts += [str(value) for value in values.values()]
    return " ".join(parts).lower()


def public_peers(asset: Asset) -> list[dict[str, Any]]:
    """The peers as a list, busiest first: ``[{ip, count, protocols, last_seen}]``."""
    peers = [{"ip": ip, **peer} for ip, peer in asset["peers"].items()]
    return sorted(peers, key=lambda peer: (-peer["count"], peer["ip"]))


def _summed(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, count in b.items():
        _count(total, key, count)
    return total


def _count(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n
