"""The events the engine builds: field order, ids and independence.

The engine builds its events from per-flow parts for speed; these tests hold what the JSON lines
of a replay depend on: the order of the fields (with and without a capture file), ids that are
:func:`event_id` of the documented parts, and events that share no dict.
"""

from __future__ import annotations

import orjson
import pytest
from scapy.all import IP, TCP, Dot1Q, Ether

from liaowang.events import event_id, parse_timestamp
from sensor.capture import Frame
from sensor.engine import Sensor
from sensor.flows import TCP_FLAG_LETTERS, tcp_flag_letters
from tests.utils.pcaps import PCAPS, sensor_events

START_NS = 1_700_000_000_000_000_000
REQUEST = bytes.fromhex("0001 0000 0006 01 03 0000 000a")
RESPONSE = bytes.fromhex("0001 0000 0017 01 03 14") + bytes(20)


def conversation() -> list:
    """A Modbus request and its response over TCP in VLAN 7."""
    client_mac, server_mac = "02:00:00:00:00:01", "02:00:00:00:00:02"
    client = Ether(src=client_mac, dst=server_mac) / Dot1Q(vlan=7) / \
        IP(src="10.0.0.1", dst="10.0.0.2")
    server = Ether(src=server_mac, dst=client_mac) / Dot1Q(vlan=7) / \
        IP(src="10.0.0.2", dst="10.0.0.1")
    return [
        client / TCP(sport=40000, dport=502, flags="S", seq=100),
        server / TCP(sport=502, dport=40000, flags="SA", seq=500, ack=101),
        client / TCP(sport=40000, dport=502, flags="PA", seq=101, ack=501) / REQUEST,
        server / TCP(sport=502, dport=40000, flags="PA", seq=501, ack=113) / RESPONSE,
    ]


def replay(pcap_file: str | None) -> list[dict]:
    frames = [Frame(n, START_NS + n * 1_000_000, 1, len(bytes(p)), bytes(p))
              for n, p in enumerate(conversation(), start=1)]
    sensor = Sensor("lab", strict=True, pcap_file=pcap_file)
    return sensor.process(frames) + sensor.finish()


def by_dataset(events: list[dict], dataset: str) -> list[dict]:
    return [e for e in events if e["event"]["dataset"] == dataset]


def test_fields_keep_their_order_with_a_capture_file() -> None:
    events = replay("lab.pcap")
    request, response = by_dataset(events, "modbus")
    (flow,) = by_dataset(events, "flow")
    assert list(request) == ["@timestamp", "event", "observer", "pcap", "source",
                             "destination", "network", "modbus"]
    assert request["pcap"] == {"file": "lab.pcap", "frame": 3}
    assert list(request["network"]) == ["transport", "community_id", "vlan", "protocol"]
    assert list(response["source"]) == ["ip", "port", "mac"]
    assert list(flow) == ["@timestamp", "event", "observer", "pcap", "source", "destination",
                          "network", "flow"]
    assert list(flow["event"]) == ["kind", "dataset", "id", "start", "end", "duration"]
    assert list(flow["source"]) == ["ip", "port", "mac", "packets", "bytes"]
    assert list(flow["network"]) == ["transport", "community_id", "vlan", "packets", "bytes"]


def test_without_a_capture_file_the_frame_follows_the_endpoints() -> None:
    events = replay(None)
    (request, _), (flow,) = by_dataset(events, "modbus"), by_dataset(events, "flow")
    assert list(request)[3:] == ["source", "destination", "network", "pcap", "modbus"]
    assert list(flow)[3:] == ["source", "destination", "network", "pcap", "flow"]
    assert flow["pcap"] == {"frame": 1}


def test_request_and_response_are_oriented_from_their_sender() -> None:
    request, response = by_dataset(replay("lab.pcap"), "modbus")
    assert (request["source"]["port"], request["destination"]["port"]) == (40000, 502)
    assert (response["source"]["port"], response["source"]["mac"]) == (502, "02-00-00-00-00-02")


def test_flow_counts_and_times() -> None:
    (flow,) = by_dataset(replay("lab.pcap"), "flow")
    assert flow["@timestamp"] == flow["event"]["start"] == "2023-11-14T22:13:20.001000Z"
    assert flow["event"]["end"] == "2023-11-14T22:13:20.004000Z"
    assert flow["event"]["duration"] == 3_000_000
    assert (flow["source"]["packets"], flow["destination"]["packets"]) == (2, 2)
    assert flow["network"]["packets"] == 4
    assert flow["network"]["bytes"] == flow["source"]["bytes"] + flow["destination"]["bytes"]
    assert flow["flow"] == {"end_reason": "end_of_capture", "tcp_flags": "SAP"}


def test_ids_are_event_id_of_the_documented_parts() -> None:
    events = replay("lab.pcap")
    (flow,) = by_dataset(events, "flow")
    cid = flow["network"]["community_id"]
    first_us = parse_timestamp(flow["@timestamp"])
    assert flow["event"]["id"] == event_id("lab", "flow", first_us, cid, 1)
    for index, pdu in enumerate(by_dataset(events, "modbus")):
        ts_us, frame = parse_timestamp(pdu["@timestamp"]), pdu["pcap"]["frame"]
        assert pdu["event"]["id"] == event_id("lab", "modbus", ts_us, cid, frame, index)


def replay_in_blocks(path: str, frames_per_block: int) -> list[dict]:
    return sensor_events(PCAPS / path, Sensor("lab", pcap_file=path), frames_per_block)


@pytest.mark.parametrize("path", [
    "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng",   # NGAP and NAS on SCTP
    "ITI__ICS-Security-Tools/pcaps__ModbusTCP__ModbusTCP.pcap",          # several PDUs a segment
    # connections closed less than a second before the end of the capture
    "AgentCarter1__S7comm-Plus-Anomaly-Detection/"
    "Wireshark_Paketler__yeni__offline_stop_yeni_yeni.pcapng",
    "seladb__PcapPlusPlus/Tests__Packet++Test__PacketExamples__gtp.pcap",  # idle at the end
])
def test_events_do_not_depend_on_how_the_input_is_cut_into_blocks(path: str) -> None:
    """The same capture read in blocks of 5 and of 4,096 frames makes the same events, ids
    included: a capture replayed again, or traffic read live in other chunks, is stored once,
    and a flow ends for the same reason."""
    small, large = replay_in_blocks(path, 5), replay_in_blocks(path, 4096)
    ids = [e["event"]["id"] for e in small]
    assert len(set(ids)) == len(ids)
    assert sorted(map(orjson.dumps, small)) == sorted(map(orjson.dumps, large))


def test_events_of_one_flow_share_no_dict() -> None:
    events = replay("lab.pcap")
    request, response = by_dataset(events, "modbus")
    (flow,) = by_dataset(events, "flow")
    request["source"]["ip"] = "192.0.2.1"
    request["network"]["vlan"]["id"] = 99
    assert response["destination"]["ip"] == flow["source"]["ip"] == "10.0.0.1"
    assert response["network"]["vlan"] == flow["network"]["vlan"] == {"id": 7}
    assert "protocol" not in flow["network"]


def test_flag_letters_from_the_table_match_the_bits() -> None:
    for flags in range(512):
        expected = "".join(letter for bit, letter in TCP_FLAG_LETTERS if flags & bit)
        assert tcp_flag_letters(flags) == expected
