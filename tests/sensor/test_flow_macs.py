"""MAC addresses on events: a flow carries the Ethernet addresses of its first frame, as tshark
reads them (``eth.src``/``eth.dst``), protocol events those of their flow oriented like the
event; captures without Ethernet, and GTP-U inner flows (whose frames belong to the tunnel's
outer endpoints), carry none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import validate
from tests.utils.oracle import needs_tshark, tshark
from tests.utils.pcaps import PCAPS, run_sensor

ETHERNET = [
    "ITI__ICS-Security-Tools/pcaps__s7__S7-1200-Uploading-OB1-TIAV12.pcap",
    "cisagov__icsnpp-s7comm/tests__traces__snap7.pcap",
    "OISF__suricata-verify/tests__modbus__modbus.pcap",
    "zeek__zeek/testing__btest__Traces__q-in-q.pcap",                      # 802.1Q in 802.1ad
    "cisagov__icsnpp-enip/tests__traces__set_attribute_single_service_cip.pcapng",  # 802.1Q
    "zeek__zeek/testing__btest__Traces__tunnels__gtp__gtp9_unknown_or_too_short_payload.pcap",
]
NOT_ETHERNET = [
    "cisagov__icsnpp-s7comm/tests__traces__s7comm_plus.pcap",              # Linux SLL
    "OISF__suricata-verify/tests__dnp3__dnp3-flood__input.pcap",           # raw IPv4
    "cisagov__icsnpp-opcua-binary/pcaps__open62541_client-server-getEndpoints.pcap",  # loopback
]
GTPU = [
    "zeek__zeek/testing__btest__Traces__tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
    "zeek__zeek/testing__btest__Traces__tunnels__gtp__gtp9_unknown_or_too_short_payload.pcap",
]


def frame_macs(path: Path) -> dict[int, tuple[str, str]]:
    """Frame number → (eth.src, eth.dst) in the ECS notation, for the frames tshark finds
    an Ethernet header in."""
    out = tshark(path, "-T", "fields", "-e", "frame.number", "-e", "eth.src", "-e", "eth.dst")
    macs = {}
    for line in out.splitlines():
        number, src, dst = line.split("\t")
        if src:
            macs[int(number)] = (ecs(src.split(",")[0]), ecs(dst.split(",")[0]))
    return macs


def ecs(mac: str) -> str:
    return mac.replace(":", "-").upper()


def macs_of(event: dict[str, Any]) -> tuple[str | None, str | None]:
    return event["source"].get("mac"), event["destination"].get("mac")


@pytest.fixture(scope="module", params=ETHERNET, ids=lambda name: Path(name).stem)
def ethernet(request: pytest.FixtureRequest) -> tuple[Path, list[dict[str, Any]]]:
    path = PCAPS / request.param
    return path, run_sensor(path)


@needs_tshark
def test_flows_carry_the_macs_of_their_first_frame(ethernet):
    path, events = ethernet
    theirs = frame_macs(path)
    flows = [e for e in events if e["event"]["dataset"] == "flow" and "gtp" not in e]
    assert flows
    for flow in flows:
        assert macs_of(flow) == theirs[flow["pcap"]["frame"]], flow


@needs_tshark
def test_protocol_events_carry_the_macs_of_their_sender_and_receiver(ethernet):
    path, events = ethernet
    theirs = frame_macs(path)
    pdus = [e for e in events if e["event"]["dataset"] not in ("flow", "weird")
            and "gtp" not in e]
    for pdu in pdus:
        assert macs_of(pdu) == theirs[pdu["pcap"]["frame"]], pdu


def test_events_with_macs_conform_to_the_schema(ethernet):
    _, events = ethernet
    assert any(e["source"].get("mac") for e in events)
    assert [problem for e in events for problem in validate(e)] == []


@pytest.mark.parametrize("name", NOT_ETHERNET, ids=lambda name: Path(name).stem)
def test_captures_without_ethernet_carry_no_macs(name):
    events = run_sensor(PCAPS / name)
    assert any(e["event"]["dataset"] == "flow" for e in events)
    assert [e for e in events if macs_of(e) != (None, None)] == []


@pytest.mark.parametrize("name", GTPU, ids=lambda name: Path(name).stem)
def test_tunnelled_inner_flows_carry_no_macs(name):
    """The first capture's inner packets are IP fragments, reassembled on the slow path."""
    events = run_sensor(PCAPS / name)
    inner = [e for e in events if e["event"]["dataset"] == "flow" and "gtp" in e]
    assert inner
    assert [e for e in inner if macs_of(e) != (None, None)] == []
