"""Fixtures for the console tests: a real SQLite store holding a few events, and the app on it.

The events are dated relative to now, so the console's "last 15 min / 1 h" ranges see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.app import create_app
from liaowang.events import event_id
from liaowang.schema import validate
from pipelines.store import open_store
from pipelines.store.base import Event, Store

CLIENT = ("10.0.0.1", 49152)
PLC = ("10.0.0.2", 502)
HOSTILE = '<img src="http://203.0.113.9/x.png"><script>document.title="owned"</script>'


def stamp(ago: timedelta) -> str:
    """The ECS timestamp of ``ago`` before now."""
    return f"{datetime.now(UTC) - ago:%Y-%m-%dT%H:%M:%S.%f}Z"


def _event(dataset: str, ago: timedelta, frame: int, src: tuple[str, int] = CLIENT,
           dst: tuple[str, int] = PLC) -> Event:
    timestamp = stamp(ago)
    return {
        "@timestamp": timestamp,
        "event": {"id": event_id(dataset, timestamp, frame), "kind": "event", "dataset": dataset},
        "observer": {"name": "tap1"},
        "source": {"ip": src[0], "port": src[1]},
        "destination": {"ip": dst[0], "port": dst[1]},
        "network": {"transport": "tcp", "protocol": dataset,
                    "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
        "pcap": {"frame": frame},
    }


def modbus_event(ago: timedelta, frame: int, function_code: int, name: str,
                 transaction_id: int, response: bool = False, **extra: object) -> Event:
    src, dst = (PLC, CLIENT) if response else (CLIENT, PLC)
    event = _event("modbus", ago, frame, src, dst)
    event["modbus"] = {"transaction_id": transaction_id, "unit_id": 1,
                       "function_code": function_code, "function_name": name,
                       "is_response": response, **extra}
    return event


def flow_event(ago: timedelta, frame: int) -> Event:
    event = _event("flow", ago, frame)
    event["event"] |= {"start": stamp(ago + timedelta(seconds=30)), "end": stamp(ago)}
    event["source"] |= {"packets": 12, "bytes": 900}
    event["destination"] |= {"packets": 10, "bytes": 1200}
    event["flow"] = {"end_reason": "tcp_close"}
    return event


def weird_event(ago: timedelta, frame: int) -> Event:
    event = _event("weird", ago, frame)
    # Captured bytes are hostile: the page must show this as text, never load it.
    event["weird"] = {"name": "modbus_invalid_protocol_id", "analyzer": "modbus",
                      "detail": HOSTILE}
    return event


@pytest.fixture
def events() -> dict[str, Event]:
    """Seven events by name; all but ``old_read`` fall within the last hour."""
    minute = timedelta(minutes=1)
    return {
        "read_request": modbus_event(1 * minute, 12, 3, "read_holding_registers", 1),
        "read_response": modbus_event(0.9 * minute, 13, 3, "read_holding_registers", 1,
                                      response=True),
        "write_request": modbus_event(2 * minute, 20, 6, "write_single_register", 2),
        "exception": modbus_event(3 * minute, 31, 134, "write_single_register", 3,
                                  response=True, exception_code=2,
                                  exception_name="illegal_data_address"),
        "flow": flow_event(5 * minute, 40),
        "weird": weird_event(30 * minute, 41),
        "old_read": modbus_event(timedelta(days=2), 2, 3, "read_holding_registers", 9),
    }


@pytest.fixture
def store(tmp_path: Path, events: dict[str, Event]) -> Iterator[Store]:
    for name, event in events.items():
        assert validate(event) == [], name
    with open_store(f"sqlite:///{tmp_path / 'events.db'}") as store:
        store.write(list(events.values()))
        yield store


@pytest.fixture
def app(store: Store) -> FastAPI:
    return create_app(store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
