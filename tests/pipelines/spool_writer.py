"""A process for the crash test to kill: spools the events of a JSON-lines file through a
:class:`SpooledSink` into a store, printing how many events are spooled after each batch.

    python -m tests.pipelines.spool_writer EVENTS.jsonl SPOOL_FOLDER STORE_URL [ES_PREFIX]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

from pipelines.sinks.spooled import SpooledSink
from pipelines.spool import Spool
from pipelines.store import open_store
from pipelines.store.base import Store
from pipelines.store.elasticsearch import ElasticsearchStore

CHUNK = 200


def store_for(url: str, prefix: str | None) -> Store:
    """The store at ``url``; an Elasticsearch one under the test's index ``prefix``."""
    if prefix:
        return ElasticsearchStore(url, prefix=prefix, refresh=True)
    return open_store(url)


def main(argv: list[str]) -> None:
    events_path, folder, url, *prefix = argv
    events = [orjson.loads(line) for line in Path(events_path).read_bytes().splitlines()]
    sink = SpooledSink(Spool(folder), store_for(url, prefix[0] if prefix else None),
                       batch_size=100, owns_store=True)
    for start in range(0, len(events), CHUNK):
        sink.write(events[start:start + CHUNK])
        print(min(start + CHUNK, len(events)), flush=True)
        time.sleep(0.05)
    sink.flush(timeout=120)
    sink.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
