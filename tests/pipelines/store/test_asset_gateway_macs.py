"""Gateway MACs in the storage contract, on both backends: a change naming a MAC a gateway's
takes it off a stored record and re-derives the vendor; records stored before the field
existed merge as if it were empty."""

from __future__ import annotations

from pipelines.assets.model import fold, new_asset
from pipelines.assets.observe import Sighting
from pipelines.store.base import Store

T0, T1 = "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:05.000000Z"
ROUTER_MAC = "00-00-0C-07-AC-01"
HOST = "198.51.100.7"


def test_a_gateway_change_takes_the_mac_and_its_vendor_off_a_stored_record(store: Store) -> None:
    store.upsert_assets(list(fold([Sighting(HOST, T0, mac=ROUTER_MAC)]).values()))
    assert store.get_asset(HOST)["vendor"] == "Cisco Systems, Inc"
    change = new_asset(HOST, T0) | {"gateway_macs": [ROUTER_MAC]}
    store.upsert_assets([change])
    stored = store.get_asset(HOST)
    assert (stored["macs"], stored["gateway_macs"], stored["vendor"]) == ([], [ROUTER_MAC], None)
    assert (stored["events"], stored["last_seen"]) == (1, T0)
    store.upsert_assets(list(fold([Sighting(HOST, T1, mac=ROUTER_MAC)]).values()))
    assert store.get_asset(HOST)["macs"] == []


def test_records_stored_without_gateway_macs_still_merge(store: Store) -> None:
    old = fold([Sighting(HOST, T0, mac=ROUTER_MAC)])[HOST]
    del old["gateway_macs"]
    store.upsert_assets([old])
    store.upsert_assets(list(fold([Sighting(HOST, T1, mac="00-0E-8C-D0-F9-CB")]).values()))
    stored = store.get_asset(HOST)
    assert stored["macs"] == [ROUTER_MAC, "00-0E-8C-D0-F9-CB"] and stored["gateway_macs"] == []
    assert stored["vendor"] == "Cisco Systems, Inc"
