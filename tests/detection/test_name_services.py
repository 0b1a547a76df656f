"""Name-service chatter between known hosts is no violation; strangers and sessions still are.

The baseline is learned from real Modbus captures; the flows checked against it are the ones a
Windows host sends when it looks up a name (NBNS broadcast query, unicast answer), announces
itself (NetBIOS datagram to the broadcast address) or resolves by mDNS/LLMNR multicast.
"""

from __future__ import annotations

import pytest
import yaml

from detection.anomaly import AnomalyDetector, AnomalyModel
from detection.baseline import Baseline, BaselineLearner
from detection.name_services import NAME_SERVICES
from tests.detection.conftest import POLLER, Event

MASTER, PLC = POLLER.split(" -> ")
STRANGER = "192.168.0.99"
DIRECTED_BROADCAST = "192.168.0.255"


def flow(source: str, destination: str, source_port: int, destination_port: int,
         transport: str = "udp") -> Event:
    return {"@timestamp": "2024-01-01T00:00:00Z", "event": {"kind": "event", "dataset": "flow"},
            "source": {"ip": source, "port": source_port},
            "destination": {"ip": destination, "port": destination_port},
            "network": {"transport": transport}}


@pytest.fixture(scope="module")
def baseline(normal_events: list[Event]) -> Baseline:
    learner = BaselineLearner()
    learner.learn(normal_events)
    learner.learn([flow(PLC, DIRECTED_BROADCAST, 138, 138)])  # one host announced itself
    return learner.baseline()


def kinds(baseline: Baseline, event: Event) -> list[str]:
    return [v.kind for v in baseline.violations(event)]


@pytest.mark.parametrize("event", [
    flow(MASTER, DIRECTED_BROADCAST, 137, 137),  # a name query broadcast to the subnet
    flow(PLC, MASTER, 137, 137),                 # the answer, unicast
    flow(MASTER, DIRECTED_BROADCAST, 138, 138),  # a browser announcement
    flow(MASTER, "224.0.0.251", 5353, 5353),     # mDNS
    flow(PLC, "224.0.0.252", 61000, 5355),       # LLMNR query
    flow(MASTER, PLC, 5355, 61000),              # LLMNR answer, from the service port
    flow(MASTER, "255.255.255.255", 137, 137),   # limited broadcast
], ids=["nbns-query", "nbns-answer", "browser", "mdns", "llmnr-query", "llmnr-answer",
        "limited-broadcast"])
def test_name_service_chatter_of_known_hosts_is_no_violation(baseline, event):
    assert MASTER in {h for key in baseline.pairs for h in key.split(" -> ")}
    assert kinds(baseline, event) == []


def test_a_host_never_seen_is_news_even_when_it_only_asks_for_a_name(baseline):
    assert kinds(baseline, flow(STRANGER, DIRECTED_BROADCAST, 137, 137)) == ["new_pair"]
    assert kinds(baseline, flow(STRANGER, "224.0.0.251", 5353, 5353)) == ["new_pair"]


def test_a_known_host_asking_a_stranger_is_news(baseline):
    [violation] = baseline.violations(flow(MASTER, STRANGER, 137, 137))
    assert violation.kind == "new_pair" and violation.observed == f"{MASTER} -> {STRANGER}"


def test_the_session_after_a_lookup_is_still_enforced(baseline):
    assert kinds(baseline, flow(PLC, MASTER, 1045, 139, "tcp")) == ["new_pair"]
    assert kinds(baseline, flow(MASTER, PLC, 1045, 445, "tcp")) == ["new_operation"]
    assert kinds(baseline, flow(MASTER, PLC, 1045, 137, "tcp")) == ["new_operation"]


def test_the_waived_services_are_in_the_file_and_a_reviewer_can_take_them_out(baseline):
    document = yaml.safe_load(yaml.safe_dump(baseline.to_dict(), sort_keys=True))
    assert document["name_services"] == list(NAME_SERVICES)
    assert Baseline.from_dict(document) == baseline
    document["name_services"] = ["udp/138"]
    reviewed = Baseline.from_dict(document)
    assert kinds(reviewed, flow(MASTER, DIRECTED_BROADCAST, 138, 138)) == []
    assert kinds(reviewed, flow(MASTER, DIRECTED_BROADCAST, 137, 137)) == ["new_pair"]
    del document["name_services"]  # a file written before the list existed
    assert Baseline.from_dict(document).name_services == list(NAME_SERVICES)


def test_an_enforcing_detector_stays_quiet_on_lookups_and_alerts_on_the_stranger(
        model: AnomalyModel):
    detector = AnomalyDetector(model, enforce_baseline=True)
    alerts = detector.process([flow(MASTER, "224.0.0.251", 5353, 5353),
                               flow(PLC, MASTER, 137, 137),
                               flow(STRANGER, "224.0.0.251", 5353, 5353)])
    assert [a["baseline"]["observed"] for a in alerts] == [f"{STRANGER} -> 224.0.0.251"]
