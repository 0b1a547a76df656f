"""The asset inventory part of the storage contract, on both backends (real SQLite, real
Elasticsearch): merged upserts, exact filters, free text, sorting and paging."""

from __future__ import annotations

import pytest

from pipelines.assets.model import Asset, fold
from pipelines.assets.observe import sightings
from pipelines.store.assets import AssetFilter
from pipelines.store.base import QueryError, Store
from tests.utils.assets import network_events


def inventory(events: list) -> list[Asset]:
    return list(fold([s for event in events for s in sightings(event)]).values())


@pytest.fixture
def stocked(store: Store) -> Store:
    store.upsert_assets(inventory(network_events()))
    return store


def ips(store: Store, **filters: str) -> list[str]:
    return [asset["ip"] for asset in store.search_assets(AssetFilter(**filters)).data]


def test_upsert_then_get_returns_the_record(stocked: Store) -> None:
    plc = stocked.get_asset("10.0.0.2")
    assert plc is not None
    assert plc["roles"] == ["plc"] and plc["zone"] == "ot"
    assert plc["fingerprints"]["modbus"]["product_code"] == "BMX P34 2020"
    assert plc["peers"]["10.0.0.1"]["protocols"] == {"modbus": 2}
    assert plc["risk"] == {"alerts": 1, "max_severity": 4, "score": 92}
    assert stocked.get_asset("10.9.9.9") is None


def test_a_second_upsert_adds_to_the_stored_counts(stocked: Store) -> None:
    later = network_events()[:2]
    for event in later:
        event["@timestamp"] = "2030-01-01T00:00:00.000000Z"
    stocked.upsert_assets(inventory(later))
    hmi = stocked.get_asset("10.0.0.1")
    assert hmi["events"] == 4 and hmi["protocols"] == {"modbus": 4}
    assert hmi["peers"]["10.0.0.2"]["count"] == 4
    assert hmi["first_seen"] == "2015-10-22T10:00:00.000000Z"
    assert hmi["last_seen"] == "2030-01-01T00:00:00.000000Z"
    assert hmi["risk"]["alerts"] == 1
    assert hmi["macs"] == ["00:0e:8c:01:02:03"] and hmi["vendor"] == "Siemens AG"
    assert stocked.search_assets().count == 8


def test_exact_filters(stocked: Store) -> None:
    assert ips(stocked, role="plc") == ["10.0.0.2"]
    assert sorted(ips(stocked, role="amf")) == ["10.1.0.2", "10.3.0.1"]
    assert sorted(ips(stocked, zone="ran")) == ["10.1.0.1"]
    assert sorted(ips(stocked, protocol="pfcp")) == ["10.2.0.1", "10.2.0.2"]
    assert ips(stocked, zone="5gc", role="upf") == ["10.2.0.2"]
    assert ips(stocked, role="no-such-role") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("10.2.0.", ["10.2.0.1", "10.2.0.2"]),     # part of an address
    ("SIEMENS", ["10.0.0.1"]),                 # the MAC vendor, any case
    ("bmx p34", ["10.0.0.2"]),                 # a fingerprint value
    ("gnb-bench", ["10.1.0.1"]),               # the gNB's name from NGAP
    ("udm", ["10.3.0.2"]),                     # a role
    ("10_0", []), ("%", []), ("*", []),        # wildcard characters are literal
])
def test_free_text(stocked: Store, text: str, expected: list[str]) -> None:
    assert sorted(ips(stocked, text=text)) == expected


def test_sorted_by_risk_then_by_last_seen(stocked: Store) -> None:
    by_risk = ips(stocked, sort="risk")
    assert set(by_risk[:2]) == {"10.0.0.1", "10.0.0.2"}
    by_time = stocked.search_assets(AssetFilter(sort="last_seen")).data
    assert [a["last_seen"] for a in by_time] == sorted((a["last_seen"] for a in by_time),
                                                        reverse=True)
    assert by_time[0]["ip"] in {"10.0.0.1", "10.0.0.2"}    # the alert came last


def test_paging(stocked: Store) -> None:
    first = stocked.search_assets(AssetFilter(sort="last_seen"), size=3)
    rest = stocked.search_assets(AssetFilter(sort="last_seen"), size=10, offset=3)
    assert first.count == rest.count == 8
    assert len(first.data) == 3 and len(rest.data) == 5
    assert {a["ip"] for a in first.data}.isdisjoint(a["ip"] for a in rest.data)


@pytest.mark.parametrize(("filters", "size", "offset"), [
    (AssetFilter(sort="name"), 10, 0), (AssetFilter(), 0, 0), (AssetFilter(), 10, -1),
    (AssetFilter(text="x" * 201), 10, 0)])
def test_bad_searches_are_query_errors(store: Store, filters: AssetFilter, size: int,
                                       offset: int) -> None:
    with pytest.raises(QueryError):
        store.search_assets(filters, size=size, offset=offset)
