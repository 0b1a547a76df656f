"""Value ranges in the baseline, a client's behaviour across its servers, and flows as pairs."""

from __future__ import annotations

import copy

import pytest
import yaml

from detection.anomaly import AnomalyDetector, Trainer
from detection.baseline import Baseline, BaselineLearner
from detection.values import outside, tolerance_of, written_values
from liaowang.schema import validate
from tests.detection.conftest import Event, normal_capture
from tests.utils.pcaps import run_sensor

# An HMI (192.168.0.156) writing holding register 4 of a PLC, among other pollers.
WRITER_CAPTURE = "pcaps__ModbusTCP__Modbus__modbus_test.pcap"
WRITER = "192.168.0.156 -> 192.168.0.20"


@pytest.fixture(scope="module")
def writer_events() -> list[Event]:
    return run_sensor(normal_capture(WRITER_CAPTURE))


def learned(events: list[Event]) -> Baseline:
    learner = BaselineLearner()
    learner.learn(events)
    return learner.baseline()


def register_writes(events: list[Event]) -> list[Event]:
    return [e for e in events if e["event"]["dataset"] == "modbus"
            and e["modbus"]["function_code"] == 6 and not e["modbus"]["is_response"]]


def modbus(fc: int, address: int, values: list[int], server: str = "10.0.0.9") -> Event:
    return {"@timestamp": "2024-01-01T00:00:00Z", "event": {"dataset": "modbus", "id": "x"},
            "source": {"ip": "10.0.0.2"}, "destination": {"ip": server},
            "modbus": {"function_code": fc, "address": address, "quantity": len(values),
                       "values": values, "is_response": False}}


def test_the_baseline_learns_the_range_written_to_each_register(writer_events):
    writes = register_writes(writer_events)
    by_register = {}
    for event in writes:
        by_register.setdefault(event["modbus"]["address"], []).extend(event["modbus"]["values"])
    baseline = learned(writer_events)
    assert baseline.pairs[WRITER]["modbus"].values == {
        f"holding_registers {a}": [min(v), max(v)] for a, v in sorted(by_register.items())}
    assert [v for e in writer_events for v in baseline.violations(e)] == []


def test_a_value_beyond_the_range_and_its_tolerance_is_a_violation(writer_events):
    baseline = learned(writer_events)
    low, high = baseline.pairs[WRITER]["modbus"].values["holding_registers 4"]
    write = copy.deepcopy(register_writes(writer_events)[0])
    write["modbus"]["address"] = 4
    margin = tolerance_of(low, high)
    write["modbus"]["values"] = [int(high + margin)]
    assert baseline.violations(write) == []
    write["modbus"]["values"] = [int(high + margin) + 1]
    [violation] = baseline.violations(write)
    assert violation.kind == "value_outside_range"
    assert violation.observed == f"holding_registers 4 = {int(high + margin) + 1}"
    assert violation.expected == [f"holding_registers 4 {low:g}..{high:g} (±{margin:g})"]


def test_an_enforced_baseline_alerts_once_per_value_with_the_learned_range(writer_events):
    trainer = Trainer()
    trainer.process(writer_events)
    trainer.finish()
    detector = AnomalyDetector(trainer.fit(), enforce_baseline=True)
    write = copy.deepcopy(register_writes(writer_events)[0])
    write["modbus"] |= {"address": 4, "values": [60_000]}
    alerts = detector.process([write, copy.deepcopy(write)])
    [alert] = alerts
    assert alert["rule"]["id"] == "liaowang-baseline-value-outside-range"
    assert alert["baseline"]["observed"] == "holding_registers 4 = 60000"
    assert alert["event"]["severity"] == 4 and validate(alert) == []
    assert "outside the learned range" in alert["event"]["reason"]


def test_the_value_ranges_read_back_from_yaml(writer_events):
    baseline = learned(writer_events)
    text = yaml.safe_dump(baseline.to_dict(), sort_keys=True)
    assert "holding_registers 4:" in text
    assert Baseline.from_dict(yaml.safe_load(text)) == baseline


@pytest.mark.parametrize(("event", "written"), [
    (modbus(16, 8, [120, 7]), [("holding_registers 8", 120), ("holding_registers 9", 7)]),
    (modbus(6, 3, [5]), [("holding_registers 3", 5)]),
    (modbus(5, 0, [1]), []),          # a coil is on or off: no range
    (modbus(3, 0, [1, 2]), []),       # a read
    ({"event": {"dataset": "iec104"}, "iec104": {"type_id": 50, "ioa": [4001, 4002],
                                                 "value": [21.5, -3.0]}},
     [("ioa 4001", 21.5), ("ioa 4002", -3.0)]),
    ({"event": {"dataset": "iec104"}, "iec104": {"type_id": 45, "ioa": [7], "value": [1]}}, []),
    ({"event": {"dataset": "iec104"}, "iec104": {"type_id": 50, "ioa": [1], "value": [2.0],
                                                 "is_response": True}}, []),
    ({"event": {"dataset": "bacnet"}, "bacnet": {"service": 15, "object_type_name": "analog_value",
                                                 "object_instance": 3, "property_id": 85,
                                                 "value": "72.5"}},
     [("analog_value:3 85", 72.5)]),
    ({"event": {"dataset": "bacnet"}, "bacnet": {"service": 15, "object_type_name": "binary_value",
                                                 "object_instance": 1, "property_id": 85,
                                                 "value": "active"}}, []),
])
def test_written_values_per_protocol(event, written):
    assert written_values(event) == written


def test_the_tolerance_scales_with_the_range_and_its_magnitude():
    assert not outside([40, 60], 66) and outside([40, 60], 66.5)
    assert outside([0, 0], 1)          # never anything but 0: any other value is news
    assert not outside([-100, -50], -105) and outside([-100, -50], -111)


def test_a_client_may_do_to_one_server_what_it_does_to_another():
    learner = BaselineLearner()
    learner.learn([modbus(6, 3, [50], "10.0.0.9"), modbus(6, 3, [60], "10.0.0.9"),
                   modbus(3, 0, [], "10.0.0.8")])
    baseline = learner.baseline()
    assert baseline.violations(modbus(6, 3, [55], "10.0.0.8")) == []
    kinds = [v.kind for v in baseline.violations(modbus(6, 3, [900], "10.0.0.8"))]
    assert kinds == ["value_outside_range"]
    assert [v.kind for v in baseline.violations(modbus(6, 4, [55], "10.0.0.8"))] == [
        "write_outside_range"]
    assert [v.kind for v in baseline.violations(modbus(6, 3, [55], "10.0.0.7"))] == ["new_pair"]


def flow(source: tuple[str, int], destination: tuple[str, int], flags: str) -> Event:
    return {"@timestamp": "2024-01-01T00:00:00Z",
            "event": {"dataset": "flow", "id": "f", "start": "2024-01-01T00:00:00Z",
                      "end": "2024-01-01T00:00:01Z"},
            "source": {"ip": source[0], "port": source[1]},
            "destination": {"ip": destination[0], "port": destination[1]},
            "network": {"transport": "tcp"}, "flow": {"tcp_flags": flags}}


def test_flows_are_pairs_whose_operation_is_the_service():
    learner = BaselineLearner()
    learner.learn([flow(("10.0.0.2", 50_000), ("10.0.0.9", 502), "SAPF"),
                   # seen from mid-connection: the first packet came from the server
                   flow(("10.0.0.9", 502), ("10.0.0.2", 50_001), "AP")])
    baseline = learner.baseline()
    assert baseline.pairs["10.0.0.2 -> 10.0.0.9"]["flow"].operations == {"tcp/502": 2}
    shell = flow(("10.0.0.2", 50_002), ("10.0.0.9", 4444), "SAP")
    [violation] = baseline.violations(shell)
    assert (violation.kind, violation.observed) == ("new_operation", "tcp/4444")
    [stranger] = baseline.violations(flow(("10.0.0.5", 50_000), ("10.0.0.9", 502), "S"))
    assert stranger.kind == "new_pair"
