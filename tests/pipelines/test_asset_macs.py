"""MACs in the asset inventory: a host's own MAC names its vendor; a gateway's MAC, which comes
with every address behind it, is kept off those hosts, also on records already stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.assets import AssetSink
from pipelines.assets.macs import SHARED_AFTER, MacOwners
from pipelines.assets.model import fold
from pipelines.assets.observe import Sighting, sightings
from pipelines.store.sqlite import SQLiteStore
from tests.utils.pcaps import PCAPS, run_sensor

T0 = "2026-01-01T00:00:00.000000Z"
ROUTER_MAC = "00-00-0C-07-AC-01"       # Cisco
PLC_MAC = "00-0E-8C-D0-F9-CB"          # Siemens
PLC = "10.0.0.5"


def flow(src: str, src_mac: str, dst: str = PLC, dst_mac: str = PLC_MAC,
         at: str = T0) -> dict[str, Any]:
    return {"@timestamp": at, "event": {"kind": "event", "dataset": "flow"},
            "source": {"ip": src, "port": 40000, "mac": src_mac},
            "destination": {"ip": dst, "port": 102, "mac": dst_mac},
            "network": {"transport": "tcp", "protocol": "s7comm"}}


def remote(n: int) -> str:
    return f"198.51.100.{n}"


@pytest.fixture
def store(tmp_path: Path):
    with SQLiteStore(tmp_path / "events.db") as store:
        yield store


def test_a_host_mac_names_its_vendor(store: SQLiteStore) -> None:
    sink = AssetSink(store, interval_s=0)
    sink.write([flow("10.0.0.9", "00-50-56-34-60-5D")])
    sink.close()
    plc = store.get_asset(PLC)
    assert plc["macs"] == [PLC_MAC] and plc["gateway_macs"] == []
    assert plc["vendor"] == "Siemens AG"
    assert store.get_asset("10.0.0.9")["vendor"] == "VMware, Inc."


def test_a_gateway_mac_is_taken_off_every_host_behind_it(store: SQLiteStore) -> None:
    """The first remote hosts are stored with the router's MAC and vendor; once the MAC has
    come with more addresses than one host has, every one of them loses it, stored or not."""
    sink = AssetSink(store, interval_s=0)
    sink.write([flow(remote(n), ROUTER_MAC) for n in range(1, SHARED_AFTER)])
    sink.flush()
    assert store.get_asset(remote(1))["vendor"] == "Cisco Systems, Inc"
    sink.write([flow(remote(n), ROUTER_MAC) for n in range(SHARED_AFTER, SHARED_AFTER + 3)])
    sink.write([flow(remote(99), ROUTER_MAC)])
    sink.close()
    for n in [*range(1, SHARED_AFTER + 3), 99]:
        asset = store.get_asset(remote(n))
        assert (asset["macs"], asset["gateway_macs"], asset["vendor"]) == \
            ([], [ROUTER_MAC], None), remote(n)
    plc = store.get_asset(PLC)
    assert (plc["macs"], plc["gateway_macs"], plc["vendor"]) == ([PLC_MAC], [], "Siemens AG")


def test_a_real_capture_s_gateway_keeps_its_vendor_off_internet_hosts(
        store: SQLiteStore) -> None:
    """In Zeek's Modbus/non-Modbus capture six internet hosts come through one VMware MAC
    (a virtual router); the Modbus peers on the LAN keep their own MACs and vendors."""
    capture = PCAPS / "zeek__zeek" / (
        "testing__btest__Traces__modbus__modbus-and-non-modbus-p502.pcap")
    sink = AssetSink(store)
    for event in run_sensor(capture):
        sink.write([event])
    sink.close()
    internet = [a for a in store.search_assets(size=100).data
                if not a["ip"].startswith(("10.", "192.168."))]
    assert len(internet) == 6
    assert all(a["macs"] == [] and a["vendor"] is None for a in internet)
    assert all(a["gateway_macs"] == ["00-0C-29-1D-40-46"] for a in internet)
    lan = store.get_asset("10.0.0.9")
    assert (lan["macs"], lan["vendor"]) == (["00-50-04-93-70-67"], "3COM")


def test_a_few_addresses_on_one_mac_stay_the_host_s() -> None:
    """IPv4 and IPv6 addresses of one host share its MAC."""
    owners = MacOwners()
    addresses = ["10.0.0.7", "fe80::20e:8cff:fe01:203", "2001:db8::7", "2001:db8::7:1"]
    assert len(addresses) == SHARED_AFTER
    changes = owners.sift(fold([Sighting(ip, T0, mac=PLC_MAC) for ip in addresses]))
    assert {ip: a["vendor"] for ip, a in changes.items()} == dict.fromkeys(addresses, "Siemens AG")


@pytest.mark.parametrize("mac", ["00-00-00-00-00-00", "FF-FF-FF-FF-FF-FF", "01-00-5E-00-00-FB",
                                 "33-33-00-00-00-01", "not-a-mac", 12])
def test_macs_that_name_no_host_are_left_out(mac: Any) -> None:
    found = sightings(flow("10.0.0.1", mac))
    assert [s.mac for s in found] == [None, PLC_MAC]


def test_memory_is_bounded() -> None:
    owners = MacOwners(shared_after=1, max_tracked=3)
    for n in range(10):
        mac = f"00-0E-8C-00-00-{n:02X}"
        owners.sift(fold([Sighting(f"10.0.1.{n}", T0, mac=mac),
                          Sighting(f"10.0.2.{n}", T0, mac=mac)]))
        owners.sift(fold([Sighting(f"10.0.3.{n}", T0, mac=f"00-0E-8C-00-01-{n:02X}")]))
    assert len(owners.addresses) <= 3 and len(owners.gateways) <= 3
