"""Assets and zones: the configuration keys, longest-prefix lookup, and the enrichment step."""

from __future__ import annotations

import ipaddress
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection.fusion import Fusion
from liaowang.assets import Asset, AssetMap, PrefixTable, Zone, criticality_level
from liaowang.config import ConfigError, Settings, load_config
from liaowang.schema import validate
from pipelines.enrich import enrichments
from pipelines.enrich.assets import AssetEnrichment, asset_map

CONFIG = """\
zones:
  - {name: cell-1, cidrs: [10.10.0.0/16], kind: ot}
  - {name: core, cidrs: ["10.20.0.0/16", "fd00:5c::/32"], kind: 5gc, criticality: high}
  - {name: office, cidrs: [10.0.0.0/8]}
assets:
  - {name: plc-1, ip: 10.10.1.5, zone: cell-1, criticality: critical, role: plc, tags: [s7]}
  - {name: hmis, cidr: 10.10.2.0/24, zone: cell-1, criticality: 4, role: hmi}
  - {name: upf-1, ip: "fd00:5c::9", zone: core, role: upf}
  - {name: printer, ip: 10.30.0.7, criticality: low}
"""


def configured(tmp_path, text: str = CONFIG) -> Settings:
    path = tmp_path / "liaowang.yml"
    path.write_text(text)
    return load_config(path)


def flow(source: str, destination: str) -> dict:
    return {"@timestamp": "2024-05-01T10:00:00.000000Z", "observer": {"name": "tap"},
            "event": {"id": "f1", "kind": "event", "dataset": "flow",
                      "start": "2024-05-01T10:00:00.000000Z",
                      "end": "2024-05-01T10:00:01.000000Z"},
            "source": {"ip": source, "port": 40000, "packets": 1, "bytes": 60},
            "destination": {"ip": destination, "port": 502, "packets": 1, "bytes": 60}}


def test_the_configuration_builds_a_lookup(tmp_path) -> None:
    places = asset_map(configured(tmp_path))
    plc = places.lookup("10.10.1.5")
    assert (plc.asset.name, plc.asset.criticality, plc.zone.name, plc.zone.level) == (
        "plc-1", 5, "cell-1", 5)
    hmi = places.lookup("10.10.2.77")
    assert (hmi.asset.name, hmi.asset.role, hmi.zone.name) == ("hmis", "hmi", "cell-1")
    upf = places.lookup("fd00:5c::9")
    assert (upf.asset.name, upf.zone.name, upf.zone.level) == ("upf-1", "core", 4)
    printer = places.lookup("10.30.0.7")   # no zone of its own: the zone by address
    assert (printer.asset.criticality, printer.zone.name, printer.zone.level) == (2, "office", 2)
    assert places.lookup("10.10.9.9").asset is None
    assert places.lookup("10.10.9.9").zone.name == "cell-1"   # longest prefix, not /8
    assert not places.lookup("192.0.2.1").known
    assert not places.lookup("not an address").known


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("zones: [{name: a, cidrs: [10.0.0.0/33]}]", "zones.0.cidrs.0", "CIDR"),
    ("zones: [{name: a, cidrs: [10.0.0.1/8]}]", "zones.0.cidrs.0", "host bits set"),
    ("zones: [{name: a, cidrs: [10.0.0.0/8], kind: factory}]", "zones.0.kind", "ot"),
    ("zones: [{name: a, cidrs: [10.0.0.0/8]}, {name: a, cidrs: [10.1.0.0/16]}]",
     "zones.1.name", "twice"),
    ("assets: [{name: a, ip: 10.0.0.300}]", "assets.0.ip", "not an IP address"),
    ("assets: [{name: a, ip: 10.0.0.3, cidr: 10.0.0.0/24}]", "assets.0", "exactly one"),
    ("assets: [{name: a, ip: 10.0.0.3, criticality: urgent}]", "assets.0.criticality",
     "use 1-5"),
    ("assets: [{name: a, ip: 10.0.0.3, criticality: 6}]", "assets.0.criticality", "use 1-5"),
    ("assets:\n  - {name: a, ip: 10.0.0.3}\n  - {name: b, ip: 10.0.0.4, zone: nowhere}",
     "assets.1.zone", "no zone of this name"),
    ("intel: {files: [x.csv], severity: 5}", "intel.severity", "less than or equal"),
    ("detection: {fusion: {repeats: sometimes}}", "detection.fusion.repeats", "count"),
])
def test_bad_assets_and_zones_are_refused_naming_the_key(tmp_path, text, key, reason) -> None:
    with pytest.raises(ConfigError) as refused:
        configured(tmp_path, text)
    assert refused.value.key == key and reason in refused.value.reason
    assert refused.value.line is not None


def test_the_line_of_a_bad_asset_is_given(tmp_path) -> None:
    with pytest.raises(ConfigError) as refused:
        configured(tmp_path, CONFIG.replace("ip: 10.30.0.7", "ip: 10.30.0.700"))
    assert refused.value.line == CONFIG.splitlines().index(
        "  - {name: printer, ip: 10.30.0.7, criticality: low}") + 1


def test_criticality_words() -> None:
    assert [criticality_level(w) for w in ("low", "Medium", "high", "critical", "1", 5)] == [
        2, 3, 4, 5, 1, 5]


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), max_size=30),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
def test_prefix_match_is_the_longest_network_holding_the_address(networks, addresses) -> None:
    table: PrefixTable[str] = PrefixTable()
    nets = [ipaddress.ip_network((number, length), strict=False) for number, length in networks]
    for net in nets:
        table.add(str(net), str(net))
    for number in addresses:
        address = ipaddress.ip_address(number)
        holding = [net for net in nets if address in net]
        expected = str(max(holding, key=lambda n: n.prefixlen)) if holding else None
        assert table.match(str(address)) == expected


def test_enrichment_adds_the_asset_and_zone_of_both_endpoints(tmp_path) -> None:
    step = AssetEnrichment(asset_map(configured(tmp_path)))
    (event,) = step([flow("10.30.0.7", "10.10.1.5")])
    assert event["destination"]["asset"] == {"name": "plc-1", "criticality": 5, "role": "plc",
                                             "tags": ["s7"]}
    assert (event["destination"]["zone"], event["destination"]["zone_kind"],
            event["destination"]["zone_criticality"]) == ("cell-1", "ot", 5)
    assert event["source"]["asset"] == {"name": "printer", "criticality": 2}
    assert event["source"]["zone"] == "office"
    assert validate(event) == []


def test_addresses_not_configured_get_nothing(tmp_path) -> None:
    step = AssetEnrichment(asset_map(configured(tmp_path)))
    (event,) = step([flow("192.0.2.1", "198.51.100.2")])
    assert set(event["source"]) == set(event["destination"]) == {"ip", "port", "packets", "bytes"}


def test_without_assets_the_step_is_not_there(tmp_path) -> None:
    def up_to_fusion(settings: Settings) -> list[type]:
        kinds = [type(step) for step in enrichments(settings)]
        return kinds[:kinds.index(Fusion) + 1]

    clear = "privacy: {subscriber_ids: clear}\n"   # no pseudonym key file made
    assert up_to_fusion(configured(tmp_path, clear)) == [Fusion]
    assert up_to_fusion(configured(tmp_path, CONFIG + clear)) == [AssetEnrichment, Fusion]


def test_lookups_are_cheap_for_a_busy_network() -> None:
    assets = [Asset(f"host-{n}", f"10.{n // 256}.{n % 256}.1/32", 3) for n in range(5000)]
    zones = [Zone(f"zone-{n}", (f"10.{n}.0.0/16",), "ot") for n in range(20)]
    places = AssetMap(assets, zones)
    addresses = [f"10.{n % 20}.{n % 256}.1" for n in range(200_000)]
    started = time.process_time()   # CPU time: other processes on the machine do not count
    found = sum(places.lookup(address).asset is not None for address in addresses)
    elapsed = time.process_time() - started
    listed = {asset.network.removesuffix("/32") for asset in assets}
    assert found == sum(address in listed for address in addresses) > 150_000
    assert elapsed < 1.5, f"{elapsed:.2f} s of CPU for 200k lookups"
