"""Weird sampling: hostile or broken traffic is counted whole but reported in a sample."""

from __future__ import annotations

from collections import Counter

from scapy.all import IP, TCP, Ether

from liaowang.config import load_config
from liaowang.schema import validate
from sensor.capture import Frame
from sensor.engine import Sensor
from sensor.weirds import NS_PER_S, WeirdSampler
from tests.utils.pcaps import PCAPS, sensor_events

PFCP_CORPUS = PCAPS / "secdev__scapy/test__pcaps__pfcp.pcap"   # one flow, many odd messages
LOSSY_S7 = PCAPS / "ITI__ICS-Security-Tools/pcaps__s7__wincc_s400_production.pcapng"
START_NS = 1_700_000_000 * NS_PER_S
EVERYTHING = WeirdSampler(first=10**9)


def replay(path, sampler: WeirdSampler) -> tuple[list[dict], Sensor]:
    sensor = Sensor("lab", weirds=sampler)
    return sensor_events(path, sensor, 4096), sensor


def weirds(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"]["dataset"] == "weird"]


def per_flow(events: list[dict]) -> Counter:
    return Counter((e["network"]["community_id"], e["weird"]["name"]) for e in weirds(events))


def test_a_flow_reports_the_first_weirds_of_a_name_then_one_in_a_thousand() -> None:
    all_events, _ = replay(PFCP_CORPUS, EVERYTHING)
    sampled, sensor = replay(PFCP_CORPUS, WeirdSampler())
    total = per_flow(all_events)
    assert max(total.values()) > 100       # the corpus has one flow with many mismatches
    reported = per_flow(sampled)
    assert reported == Counter({key: min(count, 20) for key, count in total.items()})
    assert sensor.stats.weirds_unreported == sum(total.values()) - sum(reported.values())
    for key in total:
        counts = [e["weird"]["count"] for e in weirds(sampled)
                  if (e["network"]["community_id"], e["weird"]["name"]) == key]
        assert counts == list(range(1, len(counts) + 1))
    assert all(validate(e) == [] for e in sampled)


def test_the_flow_event_counts_every_weird_of_its_flow() -> None:
    events, _ = replay(PFCP_CORPUS, WeirdSampler(first=3))
    by_flow = Counter()
    for (community_id, _name), count in per_flow(replay(PFCP_CORPUS, EVERYTHING)[0]).items():
        by_flow[community_id] += count
    flows = {e["network"]["community_id"]: e for e in events if e["event"]["dataset"] == "flow"}
    assert by_flow and all(flows[cid]["flow"]["weird_count"] == n for cid, n in by_flow.items())
    assert all("weird_count" not in f["flow"] for cid, f in flows.items() if cid not in by_flow)


def test_tcp_gaps_of_a_lossy_capture_are_sampled_per_flow() -> None:
    """The capture misses most segments, over hours: its connections idle out and come back
    as new flows, each counting its own gaps."""
    all_events, _ = replay(LOSSY_S7, EVERYTHING)
    sampled, _ = replay(LOSSY_S7, WeirdSampler(first=5, then_every=50))
    assert {e["weird"]["name"] for e in weirds(all_events)} == {"tcp_gap"}
    counts = [e["weird"]["count"] for e in weirds(sampled)]
    assert max(counts) >= 100 and all(n <= 5 or n % 50 == 0 for n in counts)
    per_flow_totals = [e["flow"].get("weird_count", 0) for e in sampled
                       if e["event"]["dataset"] == "flow"]
    assert sum(per_flow_totals) == len(weirds(all_events))
    assert len(counts) == sum(min(n, 5) + n // 50 for n in per_flow_totals)
    # the analyzer's other events are all there
    assert Counter(e["event"]["dataset"] for e in sampled if e["event"]["dataset"] != "weird") \
        == Counter(e["event"]["dataset"] for e in all_events if e["event"]["dataset"] != "weird")


def truncated_tcp(n: int, ts_ns: int) -> Frame:
    packet = bytes(Ether() / IP(src="10.9.9.9", dst="10.0.0.2") / TCP(dport=502))[:14 + 20 + 7]
    return Frame(n, ts_ns, 1, len(packet), packet)


def test_a_flood_of_undecodable_packets_is_counted_whole_and_reported_in_a_sample() -> None:
    sensor = Sensor("lab", weirds=WeirdSampler(window_ns=60 * NS_PER_S))
    flood = [truncated_tcp(n, START_NS + n * 1000) for n in range(1, 2501)]
    events = sensor.process(flood)
    counts = [e["weird"]["count"] for e in weirds(events)]
    assert counts == [*range(1, 21), 1000, 2000]
    assert {e["weird"]["name"] for e in weirds(events)} == {"truncated_tcp"}
    assert sensor.stats.malformed == 2500
    assert sensor.stats.weirds_unreported == 2500 - 22
    # a window later the count starts again
    later = sensor.process([truncated_tcp(2501, START_NS + 61 * NS_PER_S)])
    assert [e["weird"]["count"] for e in weirds(later)] == [1]


def test_the_sampling_follows_the_configuration(tmp_path) -> None:
    path = tmp_path / "liaowang.yml"
    path.write_text("sensor:\n  weirds: {first: 2, then_every: 3, window_s: 5}\n")
    sensor = Sensor.from_settings(load_config(path).sensor)
    events = sensor.process([truncated_tcp(n, START_NS + n) for n in range(1, 10)])
    assert [e["weird"]["count"] for e in weirds(events)] == [1, 2, 3, 6, 9]
    assert sensor.weirds.window_ns == 5 * NS_PER_S
