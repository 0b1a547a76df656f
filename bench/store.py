"""Store write throughput: Elasticsearch through Liaowang's pipeline against a plain bulk, and
SQLite.

The documents are real events: the public captures in ../shared/pcaps replayed through the
sensor once, before timing (``bench.detection.replayed_events``), repeated with fresh ids up to
``--events``. Elasticsearch is a real node started as the tests start theirs
(``tests.utils.elasticsearch.Node``), or the one ``--es-url`` names. Measured, best of
``--repeat``, each into fresh indices made from Liaowang's index template:

- ``pipeline``: what ``liaowang replay --store`` does: batches into the disk spool, the delivery
  thread reading them back and writing them with :class:`ElasticsearchStore`, until every batch
  is acknowledged;
- ``store``: :meth:`ElasticsearchStore.write` alone, batch after batch;
- ``plain``: ``elasticsearch.helpers.bulk`` of the same documents to the same indices (daily
  index, event id as document id), in chunks of the same size.

The ratio pipeline / plain is the figure to watch (goal ≥ 0.9); SQLite's is events/s
(goal ≥ 50,000), written in batches through :meth:`SQLiteStore.write`.

    python -m bench.store [--events N] [--repeat N] [--es-url URL] [--sqlite-only]
                          [--sqlite-parts]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.detection import PCAPS, replayed_events
from pipelines.sinks.spooled import Backoff, SpooledSink
from pipelines.spool import Spool
from pipelines.store import sqlite as sqlite_store
from pipelines.store.elasticsearch import ElasticsearchStore
from pipelines.store.sqlite import SQLiteStore

BATCH = 2000   # the spool's delivery batch (SpooledSink.batch_size)
TIMEOUT_S = 300.0
Event = dict[str, Any]


def corpus(count: int, max_packets: int) -> list[Event]:
    """``count`` stored-kind events: the replayed ones, then copies with fresh ids."""
    real = [e for e in replayed_events(PCAPS, max_packets)
            if e["event"]["kind"] in ("event", "alert") and _fits_a_long(e)]
    unique = list({e["event"]["id"]: e for e in real}.values())
    events = []
    for n, event in zip(range(count), itertools.cycle(unique), strict=False):
        copy = dict(event, event=dict(event["event"]))
        copy["event"]["id"] = f"{event['event']['id']}-{n // len(unique)}"
        events.append(copy)
    return events


def _fits_a_long(value: Any) -> bool:
    """No integer beyond Elasticsearch's signed 64-bit ``long`` (a PFCP SEID or volume of
    2**64 - 1 is refused by the index; both ways would skip it, but not at the same cost)."""
    if isinstance(value, dict):
        return all(map(_fits_a_long, value.values()))
    if isinstance(value, list):
        return all(map(_fits_a_long, value))
    return not isinstance(value, int) or -(1 << 63) <= value < (1 << 63)


def batches(events: list[Event]) -> Iterator[list[Event]]:
    for start in range(0, len(events), BATCH):
        yield events[start:start + BATCH]


def rate(count: int, work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


# --- Elasticsearch -------------------------------------------------------------------------------

def es_store(url: str, prefix: str) -> ElasticsearchStore:
    """A store on fresh indices (template installed, old ones of this prefix deleted); as
    open_store makes it, with a longer timeout, as a loaded machine may need."""
    store = ElasticsearchStore(url, prefix=prefix, timeout_s=TIMEOUT_S)
    store.client.indices.delete(index=f"{prefix}-*", allow_no_indices=True,
                                expand_wildcards="all")
    store._ensure_ready()
    return store


def through_pipeline(url: str, events: list[Event]) -> float:
    store = es_store(url, "bench-pipeline")
    with tempfile.TemporaryDirectory() as folder:
        sink = SpooledSink(Spool(folder), store, batch_size=BATCH, backoff=Backoff(),
                           owns_store=True)

        def work() -> None:
            for batch in batches(events):
                sink.write(batch)
            assert sink.flush(timeout=600), sink.last_error

        result = rate(len(events), work)
        sink.close()
    return result


def through_store(url: str, events: list[Event]) -> float:
    with es_store(url, "bench-store") as store:
        return rate(len(events), lambda: [store.write(b) for b in batches(events)])


def plain_bulk(url: str, events: list[Event]) -> float:
    with es_store(url, "bench-plain") as store:
        client: Elasticsearch = store.client
        actions = [{"_index": store._index_of(e), "_id": e["event"]["id"], "_source": e}
                   for e in events]

        def work() -> None:
            ok, errors = helpers.bulk(client, actions, chunk_size=BATCH, max_chunk_bytes=1 << 30,
                                      refresh=False, raise_on_error=True)
            assert ok == len(events) and not errors

        return rate(len(events), work)


@contextmanager
def elasticsearch(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.utils.elasticsearch import Node

    node = Node().start()
    try:
        yield node.url
    finally:
        node.stop()


def bench_elasticsearch(url: str, events: list[Event], repeat: int) -> dict[str, float]:
    """Best events/s of each way, after a warm-up, the ways interleaved and each first in
    turn, so that a slow moment or a cold node hits them alike."""
    ways = {"pipeline": through_pipeline, "store": through_store, "plain": plain_bulk}
    best = dict.fromkeys(ways, 0.0)
    plain_bulk(url, events[:BATCH * 2])   # warms the node up (JIT, first indices) for all
    names = list(ways)
    for run in range(repeat):
        for name in names[run % 3:] + names[:run % 3]:   # each way first in turn
            measured = ways[name](url, events)
            print(f"  run {run + 1}: {name} {measured:,.0f} events/s", flush=True)
            best[name] = max(best[name], measured)
    return best


# --- SQLite --------------------------------------------------------------------------------------

def bench_sqlite(events: list[Event], repeat: int) -> tuple[float, float]:
    """Best events/s over ``repeat`` runs: by the wall clock, and per second of this process's
    CPU time (what the figure would be on a core of its own)."""
    best, best_cpu = 0.0, 0.0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder, \
                SQLiteStore(Path(folder) / "events.db") as store:
            cpu = time.process_time()
            best = max(best, rate(len(events), lambda: [store.write(b) for b in batches(events)]))
            best_cpu = max(best_cpu, len(events) / (time.process_time() - cpu))
    return best, best_cpu


def sqlite_parts(events: list[Event], repeat: int) -> dict[str, float]:
    """Best events/s of the parts of a SQLite write, each alone on one core: building the rows
    in Python; SQLite inserting rows built beforehand (no Python per event) into the table with
    its indices, and into the bare table (its id key only)."""
    rows = [sqlite_store._ROWS.split(batch)[0] for batch in batches(events)]
    found = {"rows built in Python": max(
        rate(len(events), lambda: [sqlite_store._ROWS.split(b) for b in batches(events)])
        for _ in range(repeat))}
    for name, bare in (("SQLite alone, indexed table", False), ("SQLite alone, bare table", True)):
        found[name] = max(_insert_rate(rows, len(events), bare) for _ in range(repeat))
    return found


def _insert_rate(rows: list[list[Any]], count: int, bare: bool) -> float:
    with tempfile.TemporaryDirectory() as folder, \
            SQLiteStore(Path(folder) / "events.db") as store:
        conn = store._connection()
        if bare:
            for (index,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                         "AND tbl_name = 'events' AND sql IS NOT NULL").fetchall():
                conn.execute(f"DROP INDEX {index}")

        def work() -> None:
            for batch in rows:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sqlite_store._INSERT_NEW, batch)
                conn.execute("COMMIT")
        return rate(count, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-packets", type=int, default=20_000,
                        help="replay the captures of at most this many packets")
    parser.add_argument("--es-url", help="an Elasticsearch node to use (default: start one)")
    parser.add_argument("--sqlite-only", action="store_true",
                        help="measure SQLite only (no Elasticsearch node)")
    parser.add_argument("--sqlite-parts", action="store_true",
                        help="also time the parts of a SQLite write alone (see sqlite_parts)")
    args = parser.parse_args()
    events = corpus(args.events, args.max_packets)
    print(f"documents: {len(events):,} real replayed events (batches of {BATCH})", flush=True)
    sqlite, sqlite_cpu = bench_sqlite(events, args.repeat)
    print(f"SQLite write: {sqlite:,.0f} events/s, {sqlite_cpu:,.0f} per CPU-second "
          "(goal >= 50,000)", flush=True)
    if args.sqlite_parts:
        for name, value in sqlite_parts(events, args.repeat).items():
            print(f"  {name}: {value:,.0f} events/s", flush=True)
    if args.sqlite_only:
        return
    with elasticsearch(args.es_url) as url:
        found = bench_elasticsearch(url, events, args.repeat)
    for name, value in found.items():
        print(f"Elasticsearch {name:>8}: {value:,.0f} events/s")
    print(f"Elasticsearch pipeline / plain bulk: {found['pipeline'] / found['plain']:.2f} "
          f"(goal >= 0.9); store / plain bulk: {found['store'] / found['plain']:.2f}")


if __name__ == "__main__":
    main()
