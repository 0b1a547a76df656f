"""The engine on crafted frames: encapsulations, tunnels, TCP order, and hostile input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import (
    IP,
    TCP,
    UDP,
    Dot1AD,
    Dot1Q,
    Ether,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment,
)
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer

from liaowang.schema import validate
from sensor.capture import Frame
from sensor.engine import Sensor

MODBUS_REQUEST = bytes.fromhex("0001 0000 0006 01 03 0000 000a")
MODBUS_RESPONSE = bytes.fromhex("0001 0000 0017 01 03 14") + bytes(20)


def run(*packets, linktype: int = 1) -> list[dict]:
    frames = [Frame(n, 1_700_000_000_000_000_000 + n * 1_000_000, linktype, len(bytes(p)),
                    bytes(p)) for n, p in enumerate(packets, start=1)]
    sensor = Sensor("lab", strict=True)
    events = sensor.process(frames) + sensor.finish()
    assert all(validate(e) == [] for e in events), [validate(e) for e in events]
    return events


def flows(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"]["dataset"] == "flow"]


def test_vlan_and_qinq_tags_are_kept_and_separate_flows() -> None:
    inner = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=53)
    qinq = Ether() / Dot1AD(vlan=300) / Dot1Q(vlan=20) / inner
    events = run(Ether() / Dot1Q(vlan=10) / inner, qinq, Ether() / inner)
    assert sorted(str(f["network"].get("vlan")) for f in flows(events)) == \
        ["None", "{'id': 10}", "{'id': 20}"]


def test_ipv6_extension_headers_are_walked() -> None:
    packet = (Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop()
              / IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / TCP(sport=1234, dport=80, flags="S"))
    (flow,) = flows(run(packet))
    assert (flow["source"]["ip"], flow["destination"]["port"]) == ("2001:db8::1", 80)
    assert flow["network"]["transport"] == "tcp"


def test_gtpu_user_plane_is_metered_as_inner_flows_with_teid_and_qfi() -> None:
    def tunnelled(teid: int, outer: tuple[str, str], inner: IP) -> Ether:
        return (Ether() / IP(src=outer[0], dst=outer[1]) / UDP(sport=2152, dport=2152)
                / GTP_U_Header(teid=teid, E=1, next_ex=0x85)
                / GTPPDUSessionContainer(type=1, QFI=9) / inner)

    up = tunnelled(0x1234, ("10.1.0.1", "10.2.0.1"),
                   IP(src="45.45.0.2", dst="8.8.8.8") / TCP(sport=40000, dport=443, flags="S"))
    down = tunnelled(0x5678, ("10.2.0.1", "10.1.0.1"),
                     IP(src="8.8.8.8", dst="45.45.0.2") / TCP(sport=443, dport=40000, flags="SA"))
    (flow,) = flows(run(up, down))
    assert flow["source"]["ip"] == "45.45.0.2" and flow["destination"]["packets"] == 1
    assert flow["gtp"] == {"teid": 0x1234, "reverse_teid": 0x5678, "qfi": 9,
                           "outer_source_ip": "10.1.0.1", "outer_destination_ip": "10.2.0.1"}


def test_a_gtpu_inner_packet_cut_into_ip_fragments_is_reassembled_into_its_inner_flow() -> None:
    inner = IP(src="45.45.0.2", dst="8.8.8.8", id=7) / UDP(sport=5000, dport=53) / (b"q" * 1400)
    pieces = fragment(inner, fragsize=600)
    outer = Ether() / IP(src="10.1.0.1", dst="10.2.0.1") / UDP(sport=2152, dport=2152)
    (flow,) = flows(run(*[outer / GTP_U_Header(teid=0x42) / piece for piece in pieces]))
    assert len(pieces) == 3
    assert (flow["source"]["ip"], flow["destination"]["port"]) == ("45.45.0.2", 53)
    assert flow["source"]["packets"] == 1 and flow["gtp"]["teid"] == 0x42
    assert flow["gtp"]["outer_source_ip"] == "10.1.0.1"


def modbus_conversation() -> list:
    client = IP(src="10.0.0.1", dst="10.0.0.2")
    server = IP(src="10.0.0.2", dst="10.0.0.1")
    return [
        Ether() / client / TCP(sport=40000, dport=502, flags="S", seq=100),
        Ether() / server / TCP(sport=502, dport=40000, flags="SA", seq=500, ack=101),
        Ether() / client / TCP(sport=40000, dport=502, flags="PA", seq=101) / MODBUS_REQUEST[:5],
        Ether() / client / TCP(sport=40000, dport=502, flags="PA", seq=106) / MODBUS_REQUEST[5:],
        Ether() / server / TCP(sport=502, dport=40000, flags="PA", seq=501) / MODBUS_RESPONSE,
    ]


def test_a_pdu_split_over_segments_is_reported_on_the_frame_that_completed_it() -> None:
    events = [e for e in run(*modbus_conversation()) if e["event"]["dataset"] == "modbus"]
    assert [(e["pcap"]["frame"], e["source"]["port"]) for e in events] == [(4, 40000), (5, 502)]


def test_out_of_order_segments_are_put_back_in_order() -> None:
    handshake_a, handshake_b, first, second, response = modbus_conversation()
    events = run(handshake_a, handshake_b, second, first, response)
    modbus = [e for e in events if e["event"]["dataset"] == "modbus"]
    assert [e["pcap"]["frame"] for e in modbus] == [4, 5]
    assert modbus[0]["modbus"]["function_code"] == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=30),
       st.sampled_from([0, 1, 101, 113, 276]))
def test_random_frames_never_raise_and_every_event_conforms(frames: list[bytes],
                                                           linktype: int) -> None:
    sensor = Sensor("fuzz")
    batch = [Frame(n, n * 1000, linktype, len(f), f) for n, f in enumerate(frames, start=1)]
    events = sensor.process(batch) + sensor.finish()
    assert all(validate(e) == [] for e in events)
    assert sensor.stats.packets == len(frames)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=400))
def test_random_modbus_payloads_never_raise(payload: bytes) -> None:
    request = TCP(sport=40000, dport=502, flags="PA", seq=101) / payload
    run(*modbus_conversation()[:2], Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / request)


def test_a_quiet_link_still_ends_idle_flows_when_time_passes() -> None:
    start = 1_700_000_000_000_000_000
    packet = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=53)
    sensor = Sensor("lab", idle_timeout_s=30, strict=True)
    assert flows(sensor.process([Frame(1, start, 1, len(bytes(packet)), bytes(packet))])) == []
    assert sensor.tick(start + 29 * 10**9) == []
    (flow,) = flows(sensor.tick(start + 31 * 10**9))
    assert flow["flow"]["end_reason"] == "idle_timeout" and sensor.finish() == []
