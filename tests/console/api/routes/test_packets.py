"""``GET /api/alerts/{id}/pcap``: the packets of an alert from a replayed real capture, opened
with tshark."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from console.auth.roles import Role
from detection.sigma import SigmaDetector
from liaowang.config import SensorSettings
from pipelines.replay import open_captures, replay
from pipelines.store.base import Event, Store
from tests.utils.events import KeptEvents
from tests.utils.pcaps import PCAPS
from tests.utils.tshark import tshark_rows

MODBUS_SMALL = PCAPS / "zeek__zeek" / "testing__btest__Traces__modbus__modbusSmall.pcap"
PACKET = ("frame.time_epoch", "frame.len", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport")



@pytest.fixture(params=["plain", "gzip"])
def capture(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The Modbus capture as it is, or kept gzip-compressed as an archive would keep it."""
    if request.param == "plain":
        return MODBUS_SMALL
    packed = tmp_path / f"{MODBUS_SMALL.name}.gz"
    packed.write_bytes(gzip.compress(MODBUS_SMALL.read_bytes()))
    return packed


@pytest.fixture
def replayed_alert(store: Store, capture: Path) -> Event:
    """The first alert of a replay of a real Modbus capture, stored with its events."""
    kept = KeptEvents()
    replay(open_captures([str(capture)]), [kept], SensorSettings(name="tap1"),
           detectors=[SigmaDetector.load()])
    store.write(kept.events)
    return next(event for event in kept.events if event["event"]["kind"] == "alert")


def flow_filter(alert: Event) -> str:
    source, destination = alert["source"], alert["destination"]
    return (f"ip.addr=={source['ip']} && ip.addr=={destination['ip']} && "
            f"tcp.port=={source['port']} && tcp.port=={destination['port']}")


def test_the_pcap_of_a_replayed_alert_holds_its_flow_and_its_frame(
        client_as: Callable[[Role], TestClient], replayed_alert: Event, tmp_path: Path) -> None:
    response = client_as(Role.analyst).get(f"/api/alerts/{replayed_alert['event']['id']}/pcap")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.tcpdump.pcap"
    assert "attachment" in response.headers["content-disposition"]
    exported = tmp_path / "alert.pcap"
    exported.write_bytes(response.content)

    packets = tshark_rows(exported, *PACKET)
    flow = tshark_rows(MODBUS_SMALL, *PACKET, display_filter=flow_filter(replayed_alert))
    assert 1 < len(packets) < len(tshark_rows(MODBUS_SMALL, "frame.number"))
    assert packets == flow          # the flow's packets, all of them, in order, nothing else
    [alert_frame] = tshark_rows(MODBUS_SMALL, *PACKET,
                                display_filter=f"frame.number=={replayed_alert['pcap']['frame']}")
    assert alert_frame in packets
    assert response.headers["x-liaowang-packets"] == str(len(packets))


def test_a_viewer_may_not_download_packets(client_as: Callable[[Role], TestClient],
                                           replayed_alert: Event) -> None:
    url = f"/api/alerts/{replayed_alert['event']['id']}/pcap"
    assert client_as(Role.viewer).get(url).status_code == 403


def test_an_alert_without_a_capture_says_why(client: TestClient,
                                             alerts: dict[str, Event]) -> None:
    response = client.get(f"/api/alerts/{alerts['exception']['event']['id']}/pcap")
    assert response.status_code == 404
    assert "not read from a capture file" in response.json()["detail"]
    assert "sensor.packet_buffer" in response.json()["detail"]


def test_an_unknown_alert_is_not_found(client: TestClient, events: dict[str, Event]) -> None:
    assert client.get("/api/alerts/nope/pcap").status_code == 404
    event_id = events["write_request"]["event"]["id"]
    assert client.get(f"/api/alerts/{event_id}/pcap").status_code == 404   # an event, no alert


def test_the_export_is_audited(client: TestClient, replayed_alert: Event) -> None:
    alert_id = replayed_alert["event"]["id"]
    assert client.get(f"/api/alerts/{alert_id}/pcap").status_code == 200
    entries = client.get("/api/audit").json()["data"]
    assert any(e["action"] == "alert.pcap" and e["target"] == alert_id for e in entries)
