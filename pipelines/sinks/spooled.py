"""Events into a store through a disk spool: nothing is lost while the store is down.

:meth:`SpooledSink.write` appends each batch to the :class:`~pipelines.spool.Spool` (on disk when
it returns); a delivery thread drains the spool into the store, acknowledging a batch only once
the store has written it, and tries again with exponential back-off while the store raises
:class:`~pipelines.store.base.StoreUnavailable`. Events a store refuses outright (a
:class:`~pipelines.store.base.StoreError` for one event, found by halving the batch) are counted
in :attr:`SpooledSink.rejected`, logged, and passed over so they cannot block the rest.

>>> import tempfile
>>> from pipelines.spool import Spool
>>> from pipelines.store.sqlite import SQLiteStore
>>> folder = tempfile.mkdtemp()
>>> event = {"@timestamp": "2015-10-22T10:00:00.000000Z", "observer": {"name": "tap1"},
...          "event": {"id": "e1", "kind": "event", "dataset": "modbus"}}
>>> sink = SpooledSink(Spool(f"{folder}/spool"), SQLiteStore(f"{folder}/events.db"),
...                    owns_store=True)
>>> sink.write([event])
>>> sink.flush(timeout=10), sink.delivered, sink.spool.pending
(True, 1, 0)
>>> sink.close()
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from liaowang.config import Settings
from pipelines.sinks.base import Event, Sink
from pipelines.spool import Batch, Spool, open_spool
from pipelines.store.base import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts while the store is unavailable: ``first_s``, doubling up to
    ``max_s``."""

    first_s: float = 0.1
    max_s: float = 5.0

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.first_s * 2 ** max(0, failures - 1))


class Destination(Protocol):
    """What a spool delivers to: a :class:`~pipelines.store.base.Store`, or anything that
    writes batches the same way (raising ``StoreUnavailable`` to be asked again later)."""

    def write(self, events: Sequence[Event]) -> int: ...

    def close(self) -> None: ...


class SpooledSink(Sink):
    """Spool every batch, deliver in the background. The store is closed with the sink only
    when ``owns_store``; the spool always is."""

    def __init__(self, spool: Spool, store: Destination, *, batch_size: int = 2000,
                 backoff: Backoff = Backoff(), owns_store: bool = False) -> None:
        self.spool, self.store = spool, store
        self.batch_size, self.backoff, self.owns_store = batch_size, backoff, owns_store
        self.delivered = 0          # events the store confirmed (a replayed one counts again)
        self.rejected = 0           # events the store refused outright
        self.failures = 0           # consecutive attempts that found the store unavailable
        self.last_error: str | None = None
        self._written = 0           # batches written, and the last count the thread caught up to
        self._caught_up = -1
        self._progress = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._deliver_until_stopped,
                                        name=f"spool-delivery-{spool.folder.name}", daemon=True)
        self._thread.start()

    def write(self, events: Sequence[Event]) -> None:
        if not events:
            return
        self.spool.append(events)
        with self._progress:
            self._written += 1
        self._wake.set()

    def flush(self, timeout: float = 0.0) -> bool:
        """Wait up to ``timeout`` seconds until everything spooled so far is delivered; returns
        whether it is. (Without a timeout it only wakes the delivery: the spool is on disk.)"""
        self._wake.set()
        with self._progress:
            return self._progress.wait_for(self._delivered_all, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop delivering (what is left stays in the spool for the next start) and close.

        A store write in progress is given ``timeout`` seconds to end; past that, the thread is
        left to finish it and the spool stays open until the process exits."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("store %r still busy; %s closes when the process exits", self.store,
                        self.spool.folder)
            return
        self.spool.close()
        if self.owns_store:
            self.store.close()

    @property
    def pending(self) -> int:
        """Events in the spool not yet delivered."""
        return self.spool.pending

    def _delivered_all(self) -> bool:
        return self._caught_up == self._written or not self._thread.is_alive()

    # --- the delivery thread --------------------------------------------------------------------

    def _deliver_until_stopped(self) -> None:
        batch: Batch | None = None
        while not self._stop.is_set():
            if batch is None:
                batch = self._next_batch()
                if batch is None:
                    self._wake.wait()
                    continue
            if self._deliver(batch):
                self.spool.ack(batch)
                batch = None
                with self._progress:
                    self._progress.notify_all()
            else:
                self._stop.wait(self.backoff.delay(self.failures))

    def _next_batch(self) -> Batch | None:
        """The next batch; when there is none, record that the writes so far are delivered."""
        with self._progress:
            written = self._written
        self._wake.clear()
        batch = self.spool.read(self.batch_size)
        if batch is None:
            with self._progress:
                self._caught_up = written
                self._progress.notify_all()
        return batch

    def _deliver(self, batch: Batch) -> bool:
        """Write ``batch`` to the store; False when the store is unavailable."""
        try:
            self._write(batch.events)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return False
        if self.failures:
            log.warning("store %r is back after %d failed attempts", self.store, self.failures)
        self.failures, self.last_error = 0, None
        return True

    def _write(self, events: list[Event]) -> None:
        """Write ``events``; when the store refuses the batch, halve it to find the events at
        fault and pass over only those."""
        if not events:
            return
        try:
            self.delivered += self.store.write(events)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if len(events) == 1:
                self._reject(events[0], exc)
                return
            middle = len(events) // 2
            self._write(events[:middle])
            self._write(events[middle:])

    def _reject(self, event: Event, exc: StoreError) -> None:
        self.rejected += 1
        log.error("store %r refused event %r: %s", self.store,
                  event.get("event", {}).get("id"), exc)

    def _unavailable(self, exc: StoreUnavailable) -> None:
        self.failures += 1
        self.last_error = str(exc)
        if self.failures == 1:
            log.warning("store %r unavailable, events wait in %s: %s", self.store,
                        self.spool.folder, exc)


def wait_for_delivery(sinks: Sequence[Sink], timeout: float) -> list[SpooledSink]:
    """Wait, within one ``timeout`` for all of them, until the spooled sinks among ``sinks``
    (also behind sinks that hold others in ``.sinks``) have delivered; returns them."""
    spooled = _spooled(sinks)
    deadline = time.monotonic() + timeout
    for sink in spooled:
        sink.flush(timeout=max(0.0, deadline - time.monotonic()))
    return spooled


def _spooled(sinks: Sequence[Sink]) -> list[SpooledSink]:
    found: list[SpooledSink] = []
    for sink in sinks:
        if isinstance(sink, SpooledSink):
            found.append(sink)
        found += _spooled(getattr(sink, "sinks", []))
    return found


def spooled_store_sink(store: Store, settings: Settings, owns_store: bool = True
                       ) -> SpooledSink:
    """The store behind the spool the configuration names: a folder of its own per store URL,
    so that events spooled for one store never reach another."""
    config = settings.pipelines.spool
    folder = Path(config.path) / spool_folder_name(settings.store.url)
    spool = open_spool(folder, max_bytes=config.max_mb << 20,
                       segment_bytes=config.segment_mb << 20, observer=settings.sensor.name)
    return SpooledSink(spool, store, owns_store=owns_store)


def spool_folder_name(store_url: str) -> str:
    """A folder name for a store URL (its password left out).

    >>> spool_folder_name("http://elastic:secret@es1:9200")
    'http-es1-9200'
    >>> spool_folder_name("sqlite:var/liaowang/events.db")
    'sqlite-var-liaowang-events.db'
    """
    parts = urlsplit(store_url)
    where = f"{parts.hostname or ''}:{parts.port or ''}" if parts.netloc else parts.path
    name = re.sub(r"[^A-Za-z0-9._]+", "-", f"{parts.scheme}-{where}").strip("-")
    return name[:100]
