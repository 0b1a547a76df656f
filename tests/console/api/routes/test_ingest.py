"""``/api/ingest`` and ``/api/sensors``: real app, real SQLite store, real spool on disk."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.app import create_app
from console.auth.accounts import Accounts
from console.auth.roles import Role
from liaowang.config import ConsoleSettings, PipelineSettings, Settings, SpoolSettings
from pipelines.store.base import Event, Store
from tests.utils.events import at, modbus_event


@pytest.fixture
def settings(tmp_path: Path, console_settings: ConsoleSettings) -> Settings:
    spool = SpoolSettings(path=str(tmp_path / "spool"))
    return Settings(console=console_settings.model_copy(update={"sensor_stale_s": 30.0}),
                    pipelines=PipelineSettings(spool=spool))


@pytest.fixture
def ingest_app(store: Store, accounts: Accounts, settings: Settings) -> FastAPI:
    return create_app(store, settings, accounts)


@pytest.fixture
def sensor(ingest_app: FastAPI, tokens: dict[Role, str]) -> Iterator[TestClient]:
    """A client with the sensor's token; the app's lifespan runs around it."""
    headers = {"Authorization": f"Bearer {tokens[Role.sensor]}"}
    with TestClient(ingest_app, headers=headers) as client:
        yield client


def ndjson(events: list[Event]) -> bytes:
    return b"".join(orjson.dumps(event) + b"\n" for event in events)


def batch(n: int, first: int = 0) -> list[Event]:
    return [modbus_event(at(i), 3, transaction_id=first + i) for i in range(n)]


def delivered(app: FastAPI, store: Store, query: str) -> int:
    """The count matching ``query`` once the ingest spool has reached the store."""
    assert app.state.ingest.flush(timeout=10)
    return store.search(query).count


def test_a_gzip_batch_is_spooled_then_stored_once(sensor: TestClient, ingest_app: FastAPI,
                                                  store: Store) -> None:
    events = batch(50, first=1000)
    body = gzip.compress(ndjson(events))
    for _ in range(2):   # a resend, as after a lost answer
        answer = sensor.post("/api/ingest", content=body,
                             headers={"Content-Encoding": "gzip",
                                      "Content-Type": "application/x-ndjson"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"accepted": 50, "refused": 0, "errors": []}
    assert delivered(ingest_app, store, "modbus.transaction_id:[1000 TO 1049]") == 50
    stored = store.get(events[7]["event"]["id"])
    assert stored == events[7]


def test_bad_lines_are_named_and_the_good_ones_kept(sensor: TestClient, ingest_app: FastAPI,
                                                    store: Store) -> None:
    good = batch(3, first=500)
    no_id = modbus_event(at(9), 3, transaction_id=900)
    del no_id["event"]["id"]
    lines = [orjson.dumps(good[0]), b"{not json", orjson.dumps(good[1]), b"",
             orjson.dumps(no_id), b"[1, 2]", orjson.dumps(good[2])]
    answer = sensor.post("/api/ingest", content=b"\n".join(lines))
    assert answer.status_code == 400
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (3, 3)
    assert [error["line"] for error in body["errors"]] == [2, 5, 6]
    assert "not JSON" in body["errors"][0]["reason"]
    assert body["errors"][1]["reason"] == "missing required field 'event.id'"
    assert body["errors"][2]["reason"] == "not a JSON object"
    query = "modbus.transaction_id:[500 TO 999]"
    assert delivered(ingest_app, store, query) == 3


def test_a_body_that_is_not_gzip_is_refused(sensor: TestClient) -> None:
    answer = sensor.post("/api/ingest", content=b"plain text",
                         headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 415
    assert "not gzip" in answer.json()["detail"]
    answer = sensor.post("/api/ingest", content=b"x", headers={"Content-Encoding": "br"})
    assert answer.status_code == 415


def test_a_gzip_bomb_is_refused(sensor: TestClient) -> None:
    bomb = gzip.compress(b"\n" * (65 << 20), compresslevel=9)
    answer = sensor.post("/api/ingest", content=bomb, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 413


@pytest.mark.parametrize("role", [Role.viewer, Role.admin])
def test_only_sensor_tokens_may_ingest(ingest_app: FastAPI, tokens: dict[Role, str],
                                       role: Role) -> None:
    with TestClient(ingest_app, headers={"Authorization": f"Bearer {tokens[role]}"}) as client:
        assert client.post("/api/ingest", content=ndjson(batch(1))).status_code == 403
        beat = {"name": "x", "version": "1", "started": "2026-01-01T00:00:00Z"}
        assert client.post("/api/sensors/heartbeat", json=beat).status_code == 403


def test_sensor_tokens_read_nothing(sensor: TestClient) -> None:
    for path in ("/api/events", "/api/alerts", "/api/sensors", "/api/overview"):
        assert sensor.get(path).status_code == 403, path


def test_heartbeats_list_the_sensors_with_a_stale_flag(sensor: TestClient, ingest_app: FastAPI,
                                                       tokens: dict[Role, str]) -> None:
    beat = {"name": "tap-east", "version": "0.1.0", "packets": 1200, "drops": 3, "events": 40,
            "lag": 0.25, "started": "2026-11-26T04:00:00+08:00"}
    assert sensor.post("/api/sensors/heartbeat", json=beat).status_code == 204
    assert sensor.post("/api/sensors/heartbeat",
                       json={**beat, "name": "tap-west"}).status_code == 204
    registry = ingest_app.state.sensors
    clock = registry.clock
    viewer = TestClient(ingest_app, headers={"Authorization": f"Bearer {tokens[Role.viewer]}"})
    listed = viewer.get("/api/sensors").json()
    assert listed["count"] == 2
    east = listed["data"][0]
    assert (east["name"], east["packets"], east["drops"], east["events"], east["lag"]) == \
        ("tap-east", 1200, 3, 40, 0.25)
    assert east["started"] == "2026-11-25T20:00:00.000000Z"
    assert east["token"] == "sensor-automation" and east["stale"] is False
    registry.clock = lambda: clock() + 31   # past console.sensor_stale_s
    assert all(s["stale"] for s in viewer.get("/api/sensors").json()["data"])


def test_a_heartbeat_with_negative_counters_is_refused(sensor: TestClient) -> None:
    beat = {"name": "tap", "version": "1", "packets": -1, "started": "2026-01-01T00:00:00Z"}
    answer = sensor.post("/api/sensors/heartbeat", json=beat)
    assert answer.status_code == 422
    assert "packets" in answer.json()["detail"]


def test_the_spool_is_on_disk_before_the_answer(sensor: TestClient, ingest_app: FastAPI,
                                                settings: Settings) -> None:
    answer = sensor.post("/api/ingest", content=ndjson(batch(5, first=2000)))
    assert answer.status_code == 200
    spool = ingest_app.state.ingest._sink.spool
    assert spool.stats.appended >= 5
    assert Path(settings.pipelines.spool.path) in spool.folder.parents
    deadline = time.monotonic() + 10
    while spool.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spool.pending == 0
