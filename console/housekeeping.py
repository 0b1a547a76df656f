"""Work a console does beside answering requests: retention, and closing the ingest pipeline.

:func:`housekeeping` runs for the app's lifetime (its lifespan). With ``store.retention_days``
set, a :class:`Pruner` thread drops older events at start and then every hour; on shutdown the
ingest pipeline (:mod:`console.ingest`) closes, and what it spooled but did not deliver yet waits
on disk for the next start, which resumes delivering it at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from console.ingest import IngestPipeline
from pipelines.store.base import Store, StoreError

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 3600.0


class Pruner:
    """Applies ``store.retain(days)`` now and every ``interval_s`` until :meth:`stop`."""

    def __init__(self, store: Store, days: int, interval_s: float = PRUNE_INTERVAL_S) -> None:
        self.store, self.days, self.interval_s = store, days, interval_s
        self.dropped = 0
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> Pruner:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def prune_once(self) -> int:
        """One pass; a store that fails is tried again at the next pass."""
        try:
            dropped = self.store.retain(self.days)
        except StoreError as exc:
            log.warning("retention of %d days on %r failed: %s", self.days, self.store, exc)
            return 0
        self.dropped += dropped
        self.runs += 1
        if dropped:
            log.info("retention: %d events older than %d days dropped", dropped, self.days)
        return dropped

    def _run(self) -> None:
        while not self._stop.is_set():
            self.prune_once()
            self._stop.wait(self.interval_s)


@contextmanager
def housekeeping(app: FastAPI) -> Iterator[None]:
    """The console's background work, for as long as the app runs."""
    days = app.state.settings.store.retention_days
    app.state.pruner = Pruner(app.state.store, days).start() if days is not None else None
    if getattr(app.state, "ingest", None) is None:
        app.state.ingest = IngestPipeline(app.state.store, app.state.settings)
    app.state.ingest.resume()
    try:
        yield
    finally:
        if app.state.pruner is not None:
            app.state.pruner.stop()
        ingest = getattr(app.state, "ingest", None)
        if ingest is not None:
            ingest.close()
