"""Normal traffic from real Modbus captures, a model trained on it, and deviations built from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detection.anomaly import AnomalyModel, Trainer
from liaowang.events import iso_timestamp, parse_timestamp
from tests.utils.pcaps import captures_with, run_sensor

Event = dict[str, Any]

# One master polling one PLC for 15 minutes, and a plant of 26 pairs for 85 seconds.
NORMAL_CAPTURES = ("pcaps__ModbusTCP__Modbus__modbus_test_2.pcap",
                   "pcaps__ModbusTCP__ModbusTCP.pcap")
POLLER = "192.168.0.21 -> 192.168.0.20"
MINUTE_US = 60_000_000


def normal_capture(name: str) -> Path:
    return next(p for p in captures_with("modbus") if p.name == name)


@pytest.fixture(scope="session")
def normal_events() -> list[Event]:
    events: list[Event] = []
    for name in NORMAL_CAPTURES:
        events += run_sensor(normal_capture(name))
    return events


def train(events: list[Event], random_state: int = 0) -> AnomalyModel:
    trainer = Trainer(random_state=random_state)
    trainer.process(events)
    trainer.finish()
    return trainer.fit()


@pytest.fixture(scope="session")
def model(normal_events: list[Event]) -> AnomalyModel:
    return train(normal_events)


def pair_events(events: list[Event], pair: str) -> list[Event]:
    client, server = pair.split(" -> ")
    return [e for e in events if e["event"]["dataset"] == "modbus"
            and {e["source"]["ip"], e["destination"]["ip"]} == {client, server}]


def faster(events: list[Event], factor: int = 20, minutes: int = 3) -> list[Event]:
    """``minutes`` of the pair's real traffic from its third minute on, each minute played
    ``factor`` times over within it: the same requests, ``factor`` times as often."""
    times = [parse_timestamp(e["@timestamp"]) for e in events]
    start = times[0] + 2 * MINUTE_US
    chosen = [(e, t) for e, t in zip(events, times, strict=True) if start <= t < start + MINUTE_US]
    step = MINUTE_US // factor
    crafted = []
    for minute in range(minutes):
        for copy_number in range(factor):
            for event, ts in chosen:
                offset = minute * MINUTE_US + copy_number * step + (ts - start) // factor
                crafted.append(_moved(event, start + offset, f"{minute}.{copy_number}"))
    return sorted(crafted, key=lambda e: e["@timestamp"])


def _moved(event: Event, ts: int, tag: str) -> Event:
    """A copy at another time, with its own id (the rest is shared, never changed)."""
    return {**event, "@timestamp": iso_timestamp(ts),
            "event": {**event["event"], "id": f"{event['event']['id']}-{tag}"}}


@pytest.fixture(scope="session")
def poller_burst(normal_events: list[Event]) -> list[Event]:
    return faster(pair_events(normal_events, POLLER))
