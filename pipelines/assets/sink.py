"""The asset sink: folds every batch into asset changes and hands them to the store on flush.

It writes straight to the store, not through the event spool: an inventory change is a sum of
counts that can wait in memory (one record per address) until the store answers again.

>>> import tempfile
>>> from pipelines.store import open_store
>>> store = open_store(f"sqlite:///{tempfile.mkdtemp()}/events.db")
>>> sink = AssetSink(store)
>>> sink.write([{"@timestamp": "2026-01-01T00:00:01.000000Z",
...              "event": {"kind": "event", "dataset": "modbus"},
...              "source": {"ip": "10.0.0.5", "port": 49200},
...              "destination": {"ip": "10.0.0.9", "port": 502},
...              "modbus": {"function_code": 3, "is_response": False}}])
>>> sink.flush()
>>> store.get_asset("10.0.0.9")["roles"]
['plc']
>>> store.close()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from pipelines.assets.macs import MacOwners
from pipelines.assets.model import Asset, fold, merge_assets
from pipelines.assets.observe import sightings
from pipelines.sinks.base import Event, Sink
from pipelines.store.base import Store, StoreError

log = logging.getLogger(__name__)


class AssetSink(Sink):
    """Keeps the store's asset inventory up to date; does not own (or close) the store.

    ``flush`` writes at most once per ``interval_s`` (a live sensor flushes every batch; the
    counts simply add up in memory meanwhile); ``close`` always writes."""

    def __init__(self, store: Store, interval_s: float = 1.0) -> None:
        self.store = store
        self.interval_s = interval_s
        self.pending: dict[str, Asset] = {}
        self.mac_owners = MacOwners()
        self.last_error: str | None = None
        self._last_flush = float("-inf")

    def write(self, events: Sequence[Event]) -> None:
        found = [sighting for event in events for sighting in sightings(event)]
        if found:
            changes = self.mac_owners.sift(fold(found))
            self.pending = _merged_into(self.pending, changes)

    def flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.interval_s:
            self._write()

    def close(self) -> None:
        self._write()

    def _write(self) -> None:
        self._last_flush = time.monotonic()
        if not self.pending:
            return
        try:
            self.store.upsert_assets(list(self.pending.values()))
        except StoreError as exc:
            self.last_error = str(exc)
            log.warning("asset inventory not updated, kept for the next flush: %s", exc)
            return
        self.pending, self.last_error = {}, None


def _merged_into(pending: dict[str, Asset], changes: dict[str, Asset]) -> dict[str, Asset]:
    for ip, change in changes.items():
        known = pending.get(ip)
        pending[ip] = change if known is None else merge_assets(known, change)
    return pending
