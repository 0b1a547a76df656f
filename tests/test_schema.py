"""Every event the sensor emits conforms to the event schema."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from liaowang.schema import FIELDS, json_schema, validate
from sensor.demo import DEMO_PCAP
from tests.utils.pcaps import PCAPS, manifest, run_sensor

SMALL = [PCAPS / row["path"] for row in manifest() if int(row["packets"]) <= 5000]


def assert_all_valid(events: list[dict]) -> None:
    problems = Counter(problem for event in events for problem in validate(event))
    assert not problems, problems.most_common(5)


def test_events_of_every_small_public_capture_conform() -> None:
    datasets: Counter[str] = Counter()
    for path in SMALL:
        events = run_sensor(path)
        assert_all_valid(events)
        datasets.update(e["event"]["dataset"] for e in events)
    assert datasets["flow"] > 1000 and datasets["modbus"] > 100


def test_events_of_the_demo_capture_conform() -> None:
    events = run_sensor(Path(DEMO_PCAP))
    assert_all_valid(events)
    assert {e["event"]["dataset"] for e in events} == {"flow", "modbus"}


@pytest.mark.parametrize(("mutate", "problem"), [
    (lambda e: e["modbus"].update(function_code="3"), "modbus.function_code"),
    (lambda e: e["modbus"].update(colour="red"), "'colour' was unexpected"),
    (lambda e: e["source"].update(ip="300.1.1.1"), "source.ip"),
    (lambda e: e["modbus"].pop("unit_id"), "missing required field 'modbus.unit_id'"),
    (lambda e: e["event"].update(dataset="gopher"), "event.dataset"),
])
def test_the_schema_refuses_what_does_not_conform(mutate, problem: str) -> None:
    event = next(e for e in run_sensor(Path(DEMO_PCAP)) if e["event"]["dataset"] == "modbus")
    assert validate(event) == []
    mutate(event)
    assert any(problem in p for p in validate(event)), validate(event)


def test_the_json_schema_covers_every_declared_field() -> None:
    schema = json_schema()
    for name in FIELDS:
        node = schema
        parts = [name] if name.startswith("@") else name.split(".")
        for part in parts:
            node = node["properties"][part]
        assert "type" in node
