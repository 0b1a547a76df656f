"""The sensor's console sink against a real console (uvicorn on a free port, real SQLite store,
real accounts): delivery, refused lines, a wrong token, heartbeats."""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from console.app import create_app
from console.auth.accounts import Accounts
from console.auth.roles import Role
from liaowang.config import Settings
from pipelines.sinks.console import ConsoleSink, SensorCounters
from pipelines.store import open_store
from pipelines.store.base import Store
from tests.utils.events import at, modbus_event


@dataclass(frozen=True)
class Served:
    url: str
    store: Store
    tokens: dict[Role, str]


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Served]:
    folder = tmp_path / "console"
    settings = Settings.model_validate({
        "store": {"url": f"sqlite:{folder / 'events.db'}"},
        "console": {"accounts_db": str(folder / "console.db")},
        "pipelines": {"spool": {"path": str(folder / "spool")}}})
    with closing(Accounts.open(settings.console.accounts_db)) as accounts:
        tokens = {role: accounts.tokens.create(f"{role}-token", role, "tests")[1]
                  for role in (Role.sensor, Role.viewer)}
    with open_store(settings.store.url) as store:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(store, settings), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", store, tokens)
        server.should_exit = True
        thread.join(10)
        sock.close()


def sensor_settings(tmp_path: Path, url: str, token: str) -> Settings:
    return Settings.model_validate({
        "sensor": {"name": "tap-7", "sink": {"type": "console", "url": url, "token": token,
                                             "heartbeat_s": 0.2}},
        "pipelines": {"spool": {"path": str(tmp_path / "sensor-spool")}}})


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_batches_reach_the_store_and_bad_lines_are_passed_over(console: Served,
                                                               tmp_path: Path) -> None:
    events = [modbus_event(at(i), 3, transaction_id=i) for i in range(30)]
    broken = copy.deepcopy(events[5])
    broken["source"]["ip"] = "not an address"
    broken["event"]["id"] = "broken-one"
    sink = ConsoleSink(sensor_settings(tmp_path, console.url, console.tokens[Role.sensor]),
                       counters=lambda: SensorCounters(packets=900, drops=2, lag_s=0.5))
    try:
        sink.write([*events[:15], broken])
        sink.write(events[15:])
        assert sink.flush(timeout=20), sink.last_error
        assert sink.pending == 0 and sink.ingest.refused == 1
    finally:
        sink.close()
    assert wait_for(lambda: console.store.search("modbus.unit_id:1").count == 30)
    assert console.store.get("broken-one") is None
    listed = httpx.get(f"{console.url}/api/sensors",
                       headers={"Authorization": f"Bearer {console.tokens[Role.viewer]}"}).json()
    (tap,) = listed["data"]
    assert (tap["name"], tap["packets"], tap["drops"], tap["events"], tap["lag"]) == \
        ("tap-7", 900, 2, 31, 0.5)
    assert tap["token"] == "sensor-token" and not tap["stale"]


def test_a_refused_token_keeps_the_events_in_the_spool(console: Served, tmp_path: Path) -> None:
    settings = sensor_settings(tmp_path, console.url, console.tokens[Role.viewer])
    sink = ConsoleSink(settings)
    try:
        sink.write([modbus_event(at(1), 3, transaction_id=77)])
        assert not sink.flush(timeout=1.5)
        assert sink.pending == 1
        assert "403" in (sink.last_error or "")
    finally:
        sink.close()
    # The same spool, now with the right token: what waited is delivered.
    right = sensor_settings(tmp_path, console.url, console.tokens[Role.sensor])
    sink = ConsoleSink(right)
    try:
        assert wait_for(lambda: sink.pending == 0), sink.last_error
    finally:
        sink.close()
    assert wait_for(lambda: console.store.search("modbus.transaction_id:77").count == 1)
