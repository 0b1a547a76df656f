"""``/api/assets``: the inventory the asset sink built from a small network's events, listed
with filters and sorts, and one host in detail with its peers and alerts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipelines.assets import AssetSink
from pipelines.store.base import Store
from tests.utils.assets import network_events


@pytest.fixture
def network(store: Store) -> None:
    """The events stored, and the inventory made of them by the sink, as a sensor run does."""
    events = network_events()
    store.write(events)
    sink = AssetSink(store)
    sink.write(events)
    sink.close()


def ips(page: dict[str, Any]) -> list[str]:
    return [asset["ip"] for asset in page["data"]]


def test_lists_the_riskiest_first(client: TestClient, network: None) -> None:
    page = client.get("/api/assets").json()
    assert page["count"] >= 8
    assert set(ips(page)[:2]) == {"10.0.0.1", "10.0.0.2"}
    plc = next(a for a in page["data"] if a["ip"] == "10.0.0.2")
    assert plc["roles"] == ["plc"] and plc["peer_count"] == 1
    assert plc["fingerprints"]["modbus"]["vendor_name"] == "Schneider Electric"
    assert "peers" not in plc


@pytest.mark.parametrize(("params", "expected"), [
    ({"role": "gnb"}, ["10.1.0.1"]),
    ({"zone": "5gc", "protocol": "pfcp"}, ["10.2.0.1", "10.2.0.2"]),
    ({"q": "siemens"}, ["10.0.0.1"]),
    ({"q": "BMX"}, ["10.0.0.2"]),
    ({"role": "upf", "q": "10.2"}, ["10.2.0.2"]),
    ({"role": "nobody"}, []),
])
def test_filters(client: TestClient, network: None, params: dict[str, str],
                 expected: list[str]) -> None:
    assert sorted(ips(client.get("/api/assets", params=params).json())) == expected


def test_sort_by_last_seen_and_paging(client: TestClient, network: None) -> None:
    first = client.get("/api/assets", params={"sort": "last_seen", "size": 2}).json()
    second = client.get("/api/assets", params={"sort": "last_seen", "size": 2,
                                               "offset": 2}).json()
    times = [a["last_seen"] for a in first["data"] + second["data"]]
    assert times == sorted(times, reverse=True)
    assert set(ips(first)).isdisjoint(ips(second))


def test_detail_has_peers_and_recent_alerts(client: TestClient, network: None) -> None:
    detail = client.get("/api/assets/10.0.0.2").json()
    assert detail["asset"]["risk"] == {"alerts": 1, "max_severity": 4, "score": 92}
    assert detail["peers"] == [{"ip": "10.0.0.1", "count": 2, "protocols": {"modbus": 2},
                                "last_seen": "2015-10-22T10:00:01.000000Z"}]
    [alert] = detail["alerts"]
    assert alert["rule"]["id"] == "lw-modbus-write"


def test_detail_of_an_unknown_or_invalid_address(client: TestClient, network: None) -> None:
    assert client.get("/api/assets/10.9.9.9").status_code == 404
    response = client.get("/api/assets/not-an-ip")
    assert response.status_code == 422 and "not an IP address" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"sort": "name"}, {"size": 0}, {"offset": -1},
                                    {"role": "a b"}, {"q": "x" * 201}])
def test_invalid_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/api/assets", params=params).status_code == 422
