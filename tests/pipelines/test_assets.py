"""Passive asset discovery: roles and fingerprints read from events, records merged and bounded,
the sink over a real store, and ``liaowang replay`` filling the inventory from a real capture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.assets import AssetSink
from pipelines.assets.model import MAX_PEERS, fold, merge_assets
from pipelines.assets.observe import Sighting, roles_of, sightings
from pipelines.assets.vendors import mac_vendor
from pipelines.store import open_store
from pipelines.store.sqlite import SQLiteStore
from tests.utils.assets import network_events
from tests.utils.pcaps import PCAPS

T0 = "2026-01-01T00:00:00.000000Z"


def event(dataset: str, src: tuple[str, int], dst: tuple[str, int], **fields: Any) -> dict:
    return {"@timestamp": T0, "event": {"kind": "event", "dataset": dataset},
            "source": {"ip": src[0], "port": src[1]},
            "destination": {"ip": dst[0], "port": dst[1]}, **fields}


A, B = ("10.0.0.1", 40000), ("10.0.0.2", 502)


@pytest.mark.parametrize(("made", "roles"), [
    (event("modbus", A, B, modbus={"is_response": False}), ("master", "plc")),
    (event("modbus", B, A, modbus={"is_response": True}), ("plc", "master")),
    (event("dnp3", A, ("10.0.0.2", 20000), dnp3={"is_response": False}), ("master", "outstation")),
    (event("iec104", ("10.0.0.2", 2404), A, iec104={}),
     ("controlled_station", "controlling_station")),
    (event("s7comm", A, ("10.0.0.2", 102), s7comm={"is_response": False}), ("hmi", "plc")),
    (event("enip", ("10.0.0.2", 44818), A, enip={"is_response": True}),
     ("enip_server", "enip_client")),
    (event("ngap", A, ("10.0.0.2", 38412), ngap={}), ("gnb", "amf")),
    (event("pfcp", A, B, pfcp={"message_type": 50}), ("smf", "upf")),
    (event("pfcp", A, B, pfcp={"message_type": 56}), ("upf", "smf")),
    (event("pfcp", A, B, pfcp={"message_type": 5, "up_function_features": ["FTUP"]}),
     ("upf", None)),
    (event("sbi", A, B, sbi={"is_response": False, "service": "nudm-sdm",
                             "requester_nf_type": "AMF"}), ("amf", "udm")),
    (event("sbi", B, A, sbi={"is_response": True, "producer_nf_type": "NRF"}), ("nrf", None)),
    (event("diameter", A, B, diameter={"is_request": True, "application_id": 16777251}),
     ("mme", "hss")),
    (event("diameter", A, B, diameter={"is_request": True, "application_id": 0}), (None, None)),
    (event("flow", A, B), (None, None)),
    (event("opcua", A, ("10.0.0.2", 9999), opcua={}), (None, None)),    # nothing tells
], ids=lambda value: value if isinstance(value, tuple) else value["event"]["dataset"])
def test_roles_from_who_asks_and_who_answers(made: dict, roles: tuple) -> None:
    assert roles_of(made) == roles


def test_fingerprints_belong_to_the_responder() -> None:
    identity = event("enip", ("10.0.0.2", 44818), A, enip={
        "is_response": True, "identity": {"vendor_name": "rockwell_automation",
                                          "product_name": "1756-ENBT/A", "revision": "4.7"}})
    records = fold(sightings(identity))
    assert records["10.0.0.2"]["fingerprints"] == {"enip": {
        "vendor_name": "rockwell_automation", "product_name": "1756-ENBT/A", "revision": "4.7"}}
    assert records["10.0.0.2"]["vendor"] == "rockwell_automation"
    assert records["10.0.0.1"]["fingerprints"] == {}


def test_gtp_tunnel_endpoints_and_configured_placement() -> None:
    flow = event("flow", ("10.45.0.2", 5000), ("8.8.8.8", 53),
                 gtp={"teid": 7, "outer_source_ip": "10.1.0.1", "outer_destination_ip": "10.2.0.2"})
    flow["source"] |= {"zone": "ran-1", "zone_kind": "ran",
                       "asset": {"name": "ue-pool", "criticality": 2}}
    records = fold(sightings(flow))
    assert records["10.1.0.1"]["roles"] == ["gtpu_endpoint"]
    assert records["10.1.0.1"]["peers"]["10.2.0.2"]["protocols"] == {"gtpu": 1}
    assert records["10.45.0.2"]["zone"] == "ran"
    assert records["10.45.0.2"]["configured"]["name"] == "ue-pool"


def test_merging_is_associative_and_keeps_every_count() -> None:
    parts = [fold(sightings(e)) for e in network_events()]
    ip = "10.0.0.2"
    chunks = [p[ip] for p in parts if ip in p]
    left = merge_assets(merge_assets(chunks[0], chunks[1]), chunks[2])
    right = merge_assets(chunks[0], merge_assets(chunks[1], chunks[2]))
    assert left == right
    assert left == fold([s for e in network_events() for s in sightings(e)])[ip]


def test_peers_are_bounded_to_the_busiest() -> None:
    found = [Sighting("10.0.0.1", T0, f"10.1.{n // 256}.{n % 256}", "modbus")
             for n in range(MAX_PEERS + 50)]
    found += [Sighting("10.0.0.1", T0, "10.9.9.9", "modbus")] * 3
    peers = fold(found)["10.0.0.1"]["peers"]
    assert len(peers) == MAX_PEERS and peers["10.9.9.9"]["count"] == 3


def test_weird_events_count_without_a_protocol() -> None:
    weird = event("weird", A, B)
    records = fold(sightings(weird))
    assert records["10.0.0.1"]["protocols"] == {} and records["10.0.0.1"]["events"] == 1


def test_mac_vendors_from_the_registry() -> None:
    assert mac_vendor("00:0E:8C:AA:BB:CC") == "Siemens AG"
    assert mac_vendor("02:00:00:00:00:01") is None   # locally administered
    assert mac_vendor("") is None


def test_the_sink_keeps_changes_while_the_store_refuses(tmp_path: Path) -> None:
    closed = SQLiteStore(tmp_path / "a.db")
    closed.close()
    sink = AssetSink(closed, interval_s=0)
    sink.write(network_events())
    sink.flush()
    assert sink.last_error and len(sink.pending) == 8
    with SQLiteStore(tmp_path / "b.db") as store:
        sink.store = store
        sink.close()
        assert sink.pending == {} and store.search_assets().count == 8


def test_replay_fills_the_inventory_from_a_real_capture(tmp_path: Path) -> None:
    capture = PCAPS / "ITI__ICS-Security-Tools" / "pcaps__s7__s7comm_reading_plc_status.pcap"
    url = f"sqlite:///{tmp_path / 'events.db'}"
    config = tmp_path / "liaowang.yml"
    config.write_text(f"pipelines: {{spool: {{path: '{tmp_path / 'spool'}'}}}}\n")
    liaowang = Path(sys.executable).parent / "liaowang"
    done = subprocess.run([str(liaowang), "replay", str(capture), "--store", url,
                           "--config", str(config)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open_store(url) as store:
        plc = store.get_asset("192.168.1.40")
        station = store.get_asset("192.168.1.10")
    assert plc["roles"] == ["plc"] and station["roles"] == ["hmi"]
    assert plc["fingerprints"]["s7comm"]["order_number"] == "6ES7 151-8AB01-0AB0"
    assert plc["peers"]["192.168.1.10"]["protocols"]["s7comm"] > 0
    assert plc["risk"]["alerts"] > 0
