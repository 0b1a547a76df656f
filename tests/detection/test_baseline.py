"""Baselines learned from real Modbus traffic: what they hold, their file form, enforcement."""

from __future__ import annotations

import copy

import yaml

from detection.anomaly import AnomalyDetector, AnomalyModel
from detection.baseline import Baseline, BaselineLearner, pair_key
from detection.operations import client_server
from liaowang.schema import validate
from tests.detection.conftest import POLLER, Event, pair_events


def learned(events: list[Event]) -> Baseline:
    learner = BaselineLearner()
    learner.learn(events)
    return learner.baseline()


def first_request(events: list[Event], function_code: int) -> Event:
    return next(e for e in events if e["event"]["dataset"] == "modbus"
                and not e["modbus"]["is_response"]
                and e["modbus"]["function_code"] == function_code)


def test_the_baseline_holds_the_pairs_operations_and_ranges_of_the_traffic(normal_events):
    baseline = learned(normal_events)
    poller = pair_events(normal_events, POLLER)
    seen_codes = {str(e["modbus"]["function_code"]) for e in poller}
    learned_pair = baseline.pairs[POLLER]["modbus"]
    assert set(learned_pair.operations) == seen_codes
    assert sum(learned_pair.operations.values()) == len(poller)
    requests = [e for e in poller if not e["modbus"]["is_response"]]
    assert learned_pair.requests == len(requests)
    read_addresses = {e["modbus"]["address"] for e in requests if e["modbus"]["function_code"] == 4}
    ranges = learned_pair.reads["input_registers"]
    assert all(any(lo <= a <= hi for lo, hi in ranges) for a in read_addresses)
    assert min(lo for lo, _ in ranges) == min(read_addresses)
    assert learned_pair.requests_per_minute["median"] > 0
    modbus_pairs = {f"{e['source']['ip']} -> {e['destination']['ip']}" for e in normal_events
                    if e["event"]["dataset"] == "modbus" and not e["modbus"]["is_response"]}
    assert {key for key, protocols in baseline.pairs.items() if "modbus" in protocols} == (
        modbus_pairs)
    flow_pairs = {pair_key(*client_server(e)) for e in normal_events
                  if e["event"]["dataset"] == "flow"}
    assert set(baseline.pairs) == modbus_pairs | flow_pairs
    assert "tcp/502" in baseline.pairs[POLLER]["flow"].operations


def test_the_file_form_is_sorted_yaml_that_reads_back_the_same(normal_events):
    baseline = learned(normal_events)
    text = yaml.safe_dump(baseline.to_dict(), sort_keys=True)
    again = Baseline.from_dict(yaml.safe_load(text))
    assert again == baseline
    assert again.approved is False
    assert yaml.safe_dump(again.to_dict(), sort_keys=True) == text
    assert text.index("approved:") < text.index("pairs:") < text.index("span:")


def test_the_normal_traffic_violates_nothing(normal_events):
    baseline = learned(normal_events)
    assert [v for e in normal_events for v in baseline.violations(e)] == []


def test_a_new_function_code_and_a_write_outside_the_ranges_are_violations(normal_events):
    baseline = learned(normal_events)
    write = copy.deepcopy(first_request(pair_events(normal_events, POLLER), 4))
    write["modbus"] |= {"function_code": 6, "address": 900, "values": [1]}
    write["modbus"].pop("quantity", None)
    found = {v.kind: v for v in baseline.violations(write)}
    assert set(found) == {"new_operation", "write_outside_range"}
    assert found["new_operation"].observed == "6"
    assert set(found["new_operation"].expected) == set(baseline.pairs[POLLER]["modbus"].operations)
    assert found["write_outside_range"].observed == "holding_registers 900-900"
    assert found["write_outside_range"].expected == ["holding_registers: none"]


def test_a_known_host_talking_to_a_new_peer_is_a_new_pair(normal_events):
    baseline = learned(normal_events)
    stranger = copy.deepcopy(first_request(pair_events(normal_events, POLLER), 4))
    stranger["destination"]["ip"] = "192.168.0.99"
    [violation] = baseline.violations(stranger)
    assert violation.kind == "new_pair"
    assert violation.observed == "192.168.0.21 -> 192.168.0.99"
    assert POLLER in violation.expected


def test_only_an_approved_baseline_alerts_once_per_violation(model: AnomalyModel, normal_events):
    write = copy.deepcopy(first_request(pair_events(normal_events, POLLER), 3))
    write["modbus"]["function_code"] = 16
    unapproved = AnomalyDetector(model)
    assert model.baseline.approved is False
    assert unapproved.process([write, write]) == []
    enforcing = AnomalyDetector(model, enforce_baseline=True)
    alerts = enforcing.process([write, copy.deepcopy(write)])
    assert sorted(a["baseline"]["violation"] for a in alerts) == [
        "new_operation", "write_outside_range"]
    for alert in alerts:
        assert validate(alert) == []
        assert alert["event"]["kind"] == "alert"
        assert alert["evidence"]["event_ids"] == [write["event"]["id"]]
        assert alert["source"]["ip"] == "192.168.0.21"
        assert "192.168.0.21 -> 192.168.0.20" in alert["event"]["reason"]
    assert enforcing.process([write]) == []
