"""Events from remote sensors into the console's pipeline: NDJSON batches, checked line by line.

A batch is one JSON event per line, gzip-compressed when the request says
``Content-Encoding: gzip``. :func:`parse_batch` reads it; every line must be a JSON object that
the event schema accepts. Bad lines are refused one by one (line number and reason), and the
good lines of the same batch are still taken: a sensor cannot fix an event by sending it again,
so refusing the whole batch would only make it lose the good ones too.

:class:`IngestPipeline` is the console's side of the pipeline that ``liaowang replay`` and
``liaowang sensor`` run: the configured enrichments, then a disk spool (a lane of its own under
``pipelines.spool.path``) delivering to the console's store. :meth:`IngestPipeline.write`
returns once the batch is on disk (``fsync``), so a sensor may forget a batch the console has
answered. Stores write by ``event.id``: a batch sent twice is stored once.

>>> events, errors = parse_batch(b'{"a": 1}\\nnot json\\n\\n[1]\\n')
>>> len(events), [e.line for e in errors], errors[-1].reason
(0, [1, 2, 4], 'not a JSON object')
"""

from __future__ import annotations

import logging
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from liaowang.config import Settings
from liaowang.schema import validate
from pipelines.enrich import Enrichment, enrichments
from pipelines.sinks.base import Event
from pipelines.sinks.spooled import SpooledSink, spool_folder_name, spooled_store_sink
from pipelines.spool import SpoolError
from pipelines.store.base import Store

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 64 << 20
"""The most a batch may hold once decompressed."""
MAX_REASONS = 3


class BatchTooLarge(ValueError):
    """The batch is bigger than :data:`MAX_BATCH_BYTES` (or its gzip is larger unpacked)."""


class BadEncoding(ValueError):
    """The body says gzip and is not, or names an encoding the console does not read."""


class SpoolFull(Exception):
    """The console's spool refused part of a batch; the sensor should send it again later."""


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """The NDJSON text of a request body sent with ``Content-Encoding: encoding``."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        data = body
    elif encoding in ("gzip", "x-gzip"):
        data = _gunzip(body)
    else:
        raise BadEncoding(f"Content-Encoding {encoding!r} is not read here: use gzip or none")
    if len(data) > MAX_BATCH_BYTES:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH_BYTES >> 20} MiB")
    return data


def _gunzip(body: bytes) -> bytes:
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = unpacker.decompress(body, MAX_BATCH_BYTES + 1)
    except zlib.error as exc:
        raise BadEncoding(f"the body is not gzip: {exc}") from exc
    if len(data) > MAX_BATCH_BYTES or unpacker.unconsumed_tail:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH_BYTES >> 20} MiB unpacked")
    if not unpacker.eof:
        raise BadEncoding("the gzip body ends early")
    return data


def parse_batch(data: bytes) -> tuple[list[Event], list[LineError]]:
    """The schema-valid events of an NDJSON batch, and what is wrong with the other lines
    (1-based line numbers; blank lines are skipped)."""
    events: list[Event] = []
    errors: list[LineError] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        event, reason = _parse_line(line)
        if event is None:
            errors.append(LineError(number, reason))
        else:
            events.append(event)
    return events, errors


def _parse_line(line: bytes) -> tuple[Event | None, str]:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg}"
    if not isinstance(event, dict):
        return None, "not a JSON object"
    problems = validate(event)
    if not problems:
        return event, ""
    more = f" (and {len(problems) - MAX_REASONS} more)" if len(problems) > MAX_REASONS else ""
    return None, "; ".join(problems[:MAX_REASONS]) + more


class IngestPipeline:
    """Enrichment, then the console's spool into ``store``; opened on first use (a console that
    no sensor ships to keeps no spool), closed with the app."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.store_url = settings.store.url
        self._steps: list[Enrichment] | None = None
        self._sink: SpooledSink | None = None
        self._lock = threading.Lock()

    def write(self, events: list[Event]) -> int:
        """Enrich and spool ``events``; on disk when this returns. Raises :class:`SpoolFull`
        when the spool could not take them all (what it took is delivered; ids make a resend
        harmless)."""
        with self._lock:
            sink = self._open()
            assert self._steps is not None
            for step in self._steps:
                events = step(events)
            dropped = sink.spool.stats.dropped
            sink.write(events)
            if sink.spool.stats.dropped > dropped:
                raise SpoolFull(f"the console's spool {sink.spool.folder} is full")
        return len(events)

    @property
    def pending(self) -> int:
        """Events spooled and not yet in the store."""
        return self._sink.pending if self._sink is not None else 0

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until the store has everything spooled so far."""
        return self._sink.flush(timeout) if self._sink is not None else True

    def resume(self) -> bool:
        """Open the spool now when an earlier run left one (it may hold events not delivered
        yet); returns whether it did."""
        folder = Path(self.settings.pipelines.spool.path) / spool_folder_name(self.store_url)
        if not folder.exists():
            return False
        with self._lock:
            try:
                self._open()
            except SpoolError as exc:   # a request will try again, and answer 503 meanwhile
                log.warning("the ingest spool cannot open: %s", exc)
                return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._sink is not None:
                self._sink.close()
                self._sink = None

    def _open(self) -> SpooledSink:
        if self._sink is None:
            self._steps = enrichments(self.settings)
            self._sink = spooled_store_sink(self.store, self.settings, owns_store=False)
        return self._sink
