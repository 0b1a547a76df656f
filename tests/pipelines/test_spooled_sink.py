"""Delivery through the spool into real stores: a store down then up (SQLite locked by another
writer; Elasticsearch behind a port where nothing listens, then the real node), a writer killed
in the middle and restarted, and ``liaowang replay`` waiting for delivery."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from pipelines.sinks.spooled import Backoff, SpooledSink
from pipelines.spool import Spool
from pipelines.store.base import Store
from pipelines.store.elasticsearch import ElasticsearchStore
from pipelines.store.sqlite import SQLiteStore
from tests.pipelines.spool_writer import store_for
from tests.utils.forwarder import Forwarder
from tests.utils.loopback import free_port
from tests.utils.pcaps import PCAPS, run_sensor

ROOT = Path(__file__).resolve().parents[2]
SMALL_MODBUS = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap"
BIG_MODBUS = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusBig.pcap"
FAST = Backoff(first_s=0.05, max_s=0.2)


@cache
def capture_events(path: Path) -> tuple[dict, ...]:
    return tuple(run_sensor(path))


def stored_ids(store: Store) -> list[str]:
    """Every event id in the store, once per stored document."""
    found, cursor = [], None
    while True:
        page = store.search(size=1000, cursor=cursor)
        found += [event["event"]["id"] for event in page.data]
        if not (cursor := page.cursor):
            return found


@pytest.fixture
def es_prefix(elasticsearch_url: str) -> Iterator[str]:
    """An index prefix private to the test, deleted afterwards."""
    prefix = f"test-spool-{uuid.uuid4().hex[:10]}"
    yield prefix
    with ElasticsearchStore(elasticsearch_url, prefix=prefix) as store:
        names = list(store.client.indices.get(index=f"{prefix}-*", allow_no_indices=True))
        if names:
            store.client.indices.delete(index=",".join(names))
        store.client.options(ignore_status=404).indices.delete_index_template(
            name=f"{prefix}-events")


def test_sqlite_locked_by_another_writer_then_free(tmp_path) -> None:
    events = list(capture_events(SMALL_MODBUS))
    store = SQLiteStore(tmp_path / "events.db", timeout_s=0.05)
    blocker = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    sink = SpooledSink(Spool(tmp_path / "spool"), store, backoff=FAST, owns_store=True)
    try:
        sink.write(events)
        assert not sink.flush(timeout=1.0)
        assert sink.failures >= 2 and "SQLite" in (sink.last_error or "")
        assert sink.pending == 51
        blocker.execute("ROLLBACK")
        assert sink.flush(timeout=10.0)
        assert sink.pending == 0 and sink.failures == 0
        assert sorted(stored_ids(store)) == sorted(e["event"]["id"] for e in events)
    finally:
        blocker.close()
        sink.close()


def test_elasticsearch_unreachable_then_up(tmp_path, elasticsearch_url, es_prefix) -> None:
    events = list(capture_events(SMALL_MODBUS))
    node = urlsplit(elasticsearch_url)
    door = Forwarder((node.hostname, node.port), free_port())   # nothing listens there yet
    store = ElasticsearchStore(door.url, prefix=es_prefix, refresh=True, retries=0,
                               timeout_s=5)
    sink = SpooledSink(Spool(tmp_path / "spool"), store, backoff=FAST, owns_store=True)
    try:
        sink.write(events[:30])
        sink.write(events[30:])
        assert not sink.flush(timeout=1.0)
        assert sink.failures >= 2 and "unreachable" in (sink.last_error or "")
        assert sink.pending == 51
        door.start()
        assert sink.flush(timeout=30.0), sink.last_error
        assert sink.pending == 0
        assert sorted(stored_ids(store)) == sorted(e["event"]["id"] for e in events)
    finally:
        sink.close()
        door.stop()


def _kill_in_the_middle(tmp_path: Path, store_url: str, prefix: str | None) -> int:
    """Start the writer, kill it (SIGKILL) once it has spooled a few batches and its delivery
    has begun; how many events it had spooled by then."""
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in capture_events(BIG_MODBUS)))
    command = [sys.executable, "-m", "tests.pipelines.spool_writer", str(source),
               str(tmp_path / "spool"), store_url, *([prefix] if prefix else [])]
    writer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    lines = [writer.stdout.readline() for _ in range(3)]
    with store_for(store_url, prefix) as store:
        deadline = time.monotonic() + 30
        while not store.search(size=1).count and time.monotonic() < deadline:
            time.sleep(0.01)
    writer.kill()
    lines += writer.stdout.read().splitlines()
    writer.wait()
    assert "done" not in lines, "the writer finished before it was killed"
    return int(lines[-1])


@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
def test_a_writer_killed_in_the_middle_delivers_everything_once_on_restart(
        tmp_path, request, backend) -> None:
    everything = [e["event"]["id"] for e in capture_events(BIG_MODBUS)]
    if backend == "sqlite":
        url, prefix = f"sqlite:///{tmp_path / 'events.db'}", None
    else:
        url, prefix = request.getfixturevalue("elasticsearch_url"), \
            request.getfixturevalue("es_prefix")
    spooled = _kill_in_the_middle(tmp_path, url, prefix)
    assert 0 < spooled <= len(everything)
    store = store_for(url, prefix)
    sink = SpooledSink(Spool(tmp_path / "spool"), store, owns_store=True)
    try:
        assert sink.flush(timeout=60.0), sink.last_error
        found = stored_ids(store)
    finally:
        sink.close()
    assert len(found) == len(set(found)), "an event stored twice"
    assert set(everything[:spooled]) <= set(found), "a spooled event was lost"
    assert set(found) <= set(everything)


def spooled_count(summary: str) -> int:
    """Events and alerts of a replay summary line: what goes to the store."""
    fields = dict(part.split("=", 1) for part in summary.split())
    return int(fields["events"]) + int(fields["alerts"])


def test_replay_waits_for_delivery_and_reports_the_spool(tmp_path) -> None:
    config = tmp_path / "liaowang.yml"
    config.write_text(f"pipelines:\n  spool:\n    path: {tmp_path / 'spool'}\n    max_mb: 16\n")
    store = tmp_path / "events.db"
    done = subprocess.run([str(Path(sys.executable).with_name("liaowang")), "replay",
                           str(SMALL_MODBUS), "--store", f"sqlite:///{store}", "--config",
                           str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.endswith(" spool_left=0")
    with SQLiteStore(store) as events:
        assert events.search(size=1).count == spooled_count(summary) > 0
    assert list((tmp_path / "spool").rglob("*.seg")) == []


def test_replay_to_an_unreachable_store_leaves_the_events_spooled(tmp_path) -> None:
    config = tmp_path / "liaowang.yml"
    config.write_text(f"pipelines:\n  spool:\n    path: {tmp_path / 'spool'}\n")
    started = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).with_name("liaowang")), "replay",
                           str(SMALL_MODBUS), "--store", f"http://127.0.0.1:{free_port()}",
                           "--config", str(config), "--flush-timeout", "1",
                           "--jsonl", str(tmp_path / "written.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    summary = next(line for line in done.stderr.splitlines() if line.startswith("packets="))
    # Every document the store would get (events, alerts, each version of an incident).
    written = len((tmp_path / "written.jsonl").read_text().splitlines())
    assert written > spooled_count(summary) > 0
    assert summary.endswith(f" spool_left={written}")
    assert f"{written} events wait in" in done.stderr
    assert list((tmp_path / "spool").rglob("*.seg")), "the events stay on disk"
    assert time.monotonic() - started < 60
