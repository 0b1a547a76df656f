"""Console latency with a million stored events: alert lists, hunts and dashboard data, timed
through the real API of a real ``liaowang console`` process.

    python -m bench.console_latency [--events 1000000] [--repeat 30] [--rebuild]

The store (``.cache/bench/console/events.db``) is built once and reused: real events from the
public captures in ../shared/pcaps (through the sensor and the shipped Sigma rules) are copied
under fresh ids, spread over the last 7 days and over shifted addresses, until the store holds
``--events`` of them; the asset inventory is built from them by the asset sink, as a sensor run
does (a store cached by an older Liaowang gets the tables the store keeps beside its events
when it is first opened: 20–40 s here). Then the console is started on a free port with an
admin token and every query is asked ``--repeat`` times (after two warm-up calls); p50 and p95
per query are printed, with the goal of each group: alert list and hunt p95 <= 100 ms,
dashboard data <= 300 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.detection import replayed_events
from detection.sigma import SigmaDetector
from liaowang.events import event_id, iso_timestamp
from pipelines.assets import AssetSink
from pipelines.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
PCAPS = Path(os.environ.get("LIAOWANG_PCAPS", ROOT.parent / "shared" / "pcaps"))
FOLDER = ROOT / ".cache" / "bench" / "console"
SPAN = timedelta(days=7)
BATCH = 20_000
SEED = 20250101
BUDGET_S = 60.0
MIN_CALLS = 5
GOALS_MS = {"alerts": 100.0, "hunt": 100.0, "dashboard": 300.0}
Event = dict[str, Any]


@dataclass(frozen=True)
class Query:
    group: str
    name: str
    path: str
    params: dict[str, Any]


def queries(day_ago: str, hour_ago: str, sample_ip: str, rule_name: str) -> list[Query]:
    """What analysts ask most: the triage list and its filters, hunts by field, address and
    time, and the dashboard's data. A field that is not a column of the store (the Modbus
    function code) is kept in a side table by the SQLite store: a rare value (16) is listed from
    it, a common one (3: one event in a hundred) checked event by event."""
    return [
        Query("alerts", "newest alerts", "/api/alerts", {"size": 100}),
        Query("alerts", "new, severity >= 3", "/api/alerts",
              {"status": "new", "min_severity": 3, "size": 100}),
        Query("alerts", "one rule", "/api/alerts", {"q": f'rule.name:"{rule_name}"'}),
        Query("alerts", "last 24 h", "/api/alerts", {"from": day_ago, "size": 100}),
        Query("hunt", "dataset", "/api/events", {"q": "event.dataset:modbus", "size": 100}),
        Query("hunt", "address", "/api/events", {"q": f"source.ip:{sample_ip}", "size": 100}),
        Query("hunt", "subnet, 24 h", "/api/events",
              {"q": "destination.ip:10.0.0.0/8", "from": day_ago, "size": 100}),
        Query("hunt", "protocol field, 1 h", "/api/events",
              {"q": "modbus.function_code:16", "from": hour_ago, "size": 100}),
        Query("hunt", "protocol field, all", "/api/events",
              {"q": "modbus.function_code:16", "size": 100}),
        Query("hunt", "common value, all", "/api/events",
              {"q": "modbus.function_code:3", "size": 100}),
        Query("hunt", "histogram 24 h", "/api/events/histogram",
              {"q": "event.dataset:s7comm", "from": day_ago, "interval": "1h"}),
        Query("dashboard", "overview, all", "/api/overview", {}),
        Query("dashboard", "overview, 24 h", "/api/overview", {"from": day_ago}),
        Query("dashboard", "assets by risk", "/api/assets", {"size": 100}),
    ]


# --- the store -----------------------------------------------------------------------------------

def seed_events() -> list[bytes]:
    """Real events and the alerts the shipped rules raise on them, as JSON, in an order mixed
    once (so any prefix has every kind); cached as JSON lines."""
    cache = FOLDER / "seed.jsonl"
    if cache.exists():
        return cache.read_bytes().splitlines()
    events = replayed_events(PCAPS, 20_000)
    events += SigmaDetector.load().process(events)
    random.Random(SEED).shuffle(events)
    lines = [orjson.dumps(event) for event in events]
    FOLDER.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def copies(seed: list[bytes], total: int, now: datetime) -> Iterator[Event]:
    """``total`` events: the seed over and over, each copy with its own ids, times spread
    evenly over :data:`SPAN` before ``now``, and addresses shifted per copy."""
    start_us = int((now - SPAN).timestamp() * 1e6)
    step_us = int(SPAN.total_seconds() * 1e6) // total
    for n in range(total):
        event = orjson.loads(seed[n % len(seed)])
        round_ = n // len(seed)
        event["@timestamp"] = iso_timestamp(start_us + n * step_us)
        event["event"]["id"] = event_id("bench", n)
        for side in ("source", "destination"):
            if isinstance(event.get(side), dict) and "ip" in event[side]:
                event[side]["ip"] = shifted(event[side]["ip"], round_)
        yield event


def shifted(ip: str, round_: int) -> str:
    """IPv4 addresses moved to another /16 per round, so copies make new hosts."""
    parts = ip.split(".")
    if len(parts) != 4 or round_ == 0:
        return ip
    return ".".join([parts[0], str((int(parts[1]) + round_) % 256), *parts[2:]])


def build_store(path: Path, total: int) -> None:
    seed = seed_events()
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    with SQLiteStore(path) as store:
        assets = AssetSink(store, interval_s=0)
        batch: list[Event] = []
        for event in copies(seed, total, datetime.now(UTC)):
            batch.append(event)
            if len(batch) == BATCH:
                store.write(batch)
                assets.write(batch)
                batch = []
        store.write(batch)
        assets.write(batch)
        assets.close()
    print(f"stored {total:,} events ({len(seed):,} real ones copied) in "
          f"{time.perf_counter() - started:.0f} s: {path}", file=sys.stderr)


def stored_count(path: Path) -> int:
    if not path.exists():
        return 0
    with SQLiteStore(path) as store:
        return store.search(size=1).count


# --- the console ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def liaowang(*args: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "liaowang"), *args],
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def config(path: Path, port: int) -> Path:
    file = FOLDER / "console.yml"
    file.write_text(f"store: {{url: 'sqlite:///{path}'}}\n"
                    f"console: {{accounts_db: '{FOLDER / 'accounts.db'}', port: {port}}}\n")
    return file


def start_console(config_file: Path, port: int) -> subprocess.Popen[bytes]:
    console = subprocess.Popen([str(Path(sys.executable).parent / "liaowang"), "console",
                                "--config", str(config_file)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600   # a store opened for the first time gets its indices
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return console
        except httpx.TransportError:
            time.sleep(0.2)
    console.kill()
    raise SystemExit("the console did not start")


# --- timing --------------------------------------------------------------------------------------

def timed(client: httpx.Client, query: Query, repeat: int) -> list[float]:
    """Milliseconds per call: ``repeat`` calls, or as many as fit in :data:`BUDGET_S` (at
    least :data:`MIN_CALLS`), after two warm-up calls."""
    for _ in range(2):
        client.get(query.path, params=query.params).raise_for_status()
    times: list[float] = []
    deadline = time.monotonic() + BUDGET_S
    while len(times) < repeat and (len(times) < MIN_CALLS or time.monotonic() < deadline):
        started = time.perf_counter()
        client.get(query.path, params=query.params).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(times: list[float], p: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[int(p) - 1]


def report(results: list[tuple[Query, list[float]]]) -> bool:
    print(f"{'group':<10} {'query':<22} {'calls':>5} {'p50 ms':>8} {'p95 ms':>8} {'goal':>6}")
    met = True
    for query, times in results:
        p95 = percentile(times, 95)
        goal = GOALS_MS[query.group]
        met &= p95 <= goal
        print(f"{query.group:<10} {query.name:<22} {len(times):5} {statistics.median(times):8.1f} "
              f"{p95:8.1f} {'ok' if p95 <= goal else 'MISS':>6}")
    return met


def samples(path: Path) -> tuple[str, str, datetime]:
    """An address that appears in many events, a rule that fired, the newest event's time."""
    with SQLiteStore(path) as store:
        ip = store.terms("source.ip", "event.dataset:modbus", size=1)[0].key
        rule = store.terms("rule.name", "event.kind:alert", size=1)[0].key
        newest = store.search(size=1).data[0]["@timestamp"]
    return str(ip), str(rule), datetime.fromisoformat(newest.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true", help="build the store again")
    args = parser.parse_args(argv)
    path = FOLDER / "events.db"
    if args.rebuild or stored_count(path) != args.events:
        build_store(path, args.events)
    port = free_port()
    config_file = config(path, port)
    (FOLDER / "accounts.db").unlink(missing_ok=True)
    token = liaowang("tokens", "create", "bench", "--role", "admin",
                     "--config", str(config_file)).strip().splitlines()[-1]
    ip, rule, newest = samples(path)
    day_ago, hour_ago = (f"{newest - span:%Y-%m-%dT%H:%M:%SZ}"
                         for span in (timedelta(days=1), timedelta(hours=1)))
    console = start_console(config_file, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            results = [(q, timed(client, q, args.repeat))
                       for q in queries(day_ago, hour_ago, ip, rule)]
    finally:
        console.terminate()
        console.wait(10)
    print(f"{args.events:,} stored events; {args.repeat} calls per query through "
          "the HTTP API of `liaowang console` (SQLite)")
    return 0 if report(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
