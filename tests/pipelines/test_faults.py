"""Faults with real processes: a frozen Elasticsearch node, a sensor killed with SIGKILL, a
console stopped while a sensor ships. After each, every event is stored exactly once by id.

The capture is Zeek's ``modbusBig.pcap`` (13,622 packets, about 6,700 events). The expected ids
come from the ``--jsonl`` output of the same replays.
The Elasticsearch node here is this module's own, so that freezing it disturbs no other test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from console.auth.accounts import Accounts
from console.auth.roles import Role
from tests.utils.elasticsearch import Node, NodeError
from tests.utils.loopback import free_port

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
SHARED = Path(os.environ.get("LIAOWANG_PCAPS", Path(__file__).resolve().parents[3] / "shared"
                             / "pcaps"))
CAPTURE = SHARED / "zeek__zeek" / "testing__btest__Traces__modbus__modbusBig.pcap"
SMALL = SHARED / "zeek__zeek" / "testing__btest__Traces__modbus__modbusSmall.pcap"
SPOOL_HEADER = struct.Struct("<2sII")
STORED_KINDS = ("event", "alert")
PREFIX = "liaowang"   # the indices of a store URL without options


# --- helpers ------------------------------------------------------------------------------------

def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def jsonl_ids(path: Path) -> list[str]:
    """Ids of the events and alerts in a ``--jsonl`` output (incidents, which stores keep apart
    and update in place, are left out)."""
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [e["event"]["id"] for e in events if e["event"]["kind"] in STORED_KINDS]


def spooled_records(folder: Path) -> int:
    """Records in the spool segments under ``folder`` (read as the spool writes them)."""
    count = 0
    for segment in folder.rglob("*.seg"):
        data = segment.read_bytes()
        offset = 0
        while offset + SPOOL_HEADER.size <= len(data):
            _, length, _ = SPOOL_HEADER.unpack_from(data, offset)
            offset += SPOOL_HEADER.size + length
            count += offset <= len(data)
    return count


def sqlite_ids(path: Path) -> list[str]:
    """Every id in the SQLite store file, read with the standard library (duplicates kept)."""
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM events")]


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Elasticsearch's launcher starts the server JVM as a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def signal_tree(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


class Console:
    """A real ``liaowang console`` subprocess on its own port, store and accounts."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.store = folder / "events.db"
        self.config = folder / "console.yml"
        self.config.write_text(
            f"store: {{url: 'sqlite:{self.store}'}}\n"
            f"console: {{port: {self.port}, accounts_db: '{folder / 'console.db'}'}}\n"
            f"pipelines: {{spool: {{path: '{folder / 'spool'}'}}}}\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sensor_token(self, name: str) -> str:
        """A new token of the ``sensor`` role in the console's accounts file (as ``liaowang
        tokens create NAME --role sensor`` makes it; test_cli_accounts runs that command)."""
        with contextlib.closing(Accounts.open(self.folder / "console.db")) as accounts:
            return accounts.tokens.create(name, Role.sensor, "tests")[1]

    def start(self) -> Console:
        log = (self.folder / "console.log").open("ab")
        self.process = subprocess.Popen([LIAOWANG, "console", "--config", str(self.config)],
                                        stdout=log, stderr=log)
        wait_until(self._answers, 60, "the console to answer", every=0.2)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def _answers(self) -> bool:
        import httpx

        assert self.process is not None and self.process.poll() is None, "the console exited"
        try:
            return httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


def sensor_config(folder: Path, console: Console, token: str, batch: int) -> Path:
    config = folder / "sensor.yml"
    config.write_text(
        "sensor:\n  name: tap1\n"
        f"  sink: {{type: console, url: '{console.url}', token: '{token}', "
        f"batch_size: {batch}, heartbeat_s: 1}}\n"
        f"pipelines: {{spool: {{path: '{folder / 'spool'}'}}}}\n")
    return config


def replay(capture: Path, config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen([LIAOWANG, "replay", str(capture), "--config", str(config),
                             "--flush-timeout", "90", *extra], stdout=out, stderr=out)


# --- Elasticsearch frozen during a replay ------------------------------------------------------

@pytest.fixture
def own_node(request: pytest.FixtureRequest) -> Iterator[Node]:
    """A node that this session started and may freeze: the session's own (tests run one after
    another, so no other test uses it meanwhile), or one of its own when the session's node is
    an outside one (``LIAOWANG_TEST_ES_URL``), which others may be using."""
    node = request.getfixturevalue("elasticsearch_node")
    private = node is None
    if private:
        try:
            node = Node().start()
        except NodeError as exc:
            pytest.fail(f"no Elasticsearch for the fault tests: {exc}", pytrace=False)
    client = Elasticsearch(node.url, request_timeout=30)
    client.indices.delete(index=f"{PREFIX}-*", allow_no_indices=True, expand_wildcards="all")
    try:
        yield node
    finally:
        signal_tree(process_tree(node.process.pid), signal.SIGCONT)
        client.indices.delete(index=f"{PREFIX}-*", allow_no_indices=True,
                              expand_wildcards="all")
        if private:
            node.stop()


def es_ids(client: Elasticsearch) -> list[str]:
    found = client.search(index=f"{PREFIX}-events-*,{PREFIX}-alerts", size=10_000, source=False,
                          allow_no_indices=True, ignore_unavailable=True,
                          track_total_hits=True)
    assert found["hits"]["total"]["value"] == len(found["hits"]["hits"])
    return [hit["_id"] for hit in found["hits"]["hits"]]


def test_a_frozen_elasticsearch_loses_and_duplicates_nothing(own_node: Node,
                                                             tmp_path: Path) -> None:
    assert own_node.process is not None
    client = Elasticsearch(own_node.url, request_timeout=10)
    config = tmp_path / "replay.yml"
    config.write_text(f"pipelines: {{spool: {{path: '{tmp_path / 'spool'}'}}}}\n"
                      "sensor: {name: tap1}\n")
    out = tmp_path / "events.jsonl"
    run = replay(CAPTURE, config, tmp_path / "replay.log", "--store", own_node.url,
                 "--jsonl", str(out))
    # Freeze on the replay's first events, not on the node's first stored ones: the node shows
    # those only after its next refresh, up to a second later, when the replay may be over.
    wait_until(lambda: (out.exists() and out.stat().st_size > 0) or run.poll() is not None, 180,
               "the replay's first events", every=0.01)
    assert run.poll() is None, "the replay ended before the node could be frozen"
    frozen = process_tree(own_node.process.pid)
    signal_tree(frozen, signal.SIGSTOP)
    try:
        time.sleep(20)
        assert run.poll() is None, "the replay gave up while Elasticsearch was frozen"
    finally:
        signal_tree(frozen, signal.SIGCONT)
    assert run.wait(timeout=120) == 0, (tmp_path / "replay.log").read_text()
    client.indices.refresh(index=f"{PREFIX}-*")
    stored, shipped = es_ids(client), jsonl_ids(out)
    assert len(shipped) > 6000
    assert sorted(stored) == sorted(shipped)
    assert len(set(stored)) == len(stored)


# --- the sensor killed mid-way, then started again ----------------------------------------------

def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_a_killed_sensor_delivers_its_spool_when_started_again(tmp_path: Path) -> None:
    console = Console(tmp_path / "console")
    token = console.sensor_token("tap1")
    sensor_dir = tmp_path / "sensor"
    sensor_dir.mkdir()
    config = sensor_config(sensor_dir, console, token, batch=50)
    log, big, small = sensor_dir / "replay.log", tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    # The console is not up yet: the whole capture waits in the sensor's spool.
    first = replay(CAPTURE, config, log, "--jsonl", str(big))
    wait_until(lambda: lines(big) > 6000 and spooled_records(sensor_dir / "spool") >= lines(big),
               90, "the capture in the sensor's spool")
    console.start()
    try:
        wait_until(lambda: len(sqlite_ids(console.store)) > 0, 60, "the first delivery")
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert len(sqlite_ids(console.store)) < lines(big) - 1000, "delivery ended before the kill"
        second = replay(SMALL, config, log, "--jsonl", str(small))  # takes over the spool
        assert second.wait(timeout=120) == 0, log.read_text()
        expected = set(jsonl_ids(big)) | set(jsonl_ids(small))
        wait_until(lambda: set(sqlite_ids(console.store)) == expected, 30,
                   "every event in the console's store")
    finally:
        console.stop()
    stored = sqlite_ids(console.store)
    assert len(stored) == len(set(stored)) == len(expected)


# --- the console stopped while a sensor ships ---------------------------------------------------

def test_a_console_stopped_while_a_sensor_ships(tmp_path: Path) -> None:
    console = Console(tmp_path / "console")
    token = console.sensor_token("tap1")
    sensor_dir = tmp_path / "sensor"
    sensor_dir.mkdir()
    config = sensor_config(sensor_dir, console, token, batch=50)
    log, out = sensor_dir / "replay.log", tmp_path / "events.jsonl"
    console.start()
    try:
        run = replay(CAPTURE, config, log, "--jsonl", str(out))
        wait_until(lambda: len(sqlite_ids(console.store)) > 0, 60, "the first delivery")
        console.stop()
        assert len(sqlite_ids(console.store)) < 6000, "delivery ended before the console stopped"
        time.sleep(3)
        assert run.poll() is None, "the sensor gave up while the console was down"
        console.start()
        assert run.wait(timeout=120) == 0, log.read_text()
        assert "spool_left=0" in log.read_text()
        expected = set(jsonl_ids(out))
        wait_until(lambda: set(sqlite_ids(console.store)) == expected, 30,
                   "every event in the console's store")
    finally:
        console.stop()
    stored = sqlite_ids(console.store)
    assert len(stored) == len(set(stored)) == len(expected) > 6000
