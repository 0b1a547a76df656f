"""Events into a :class:`~pipelines.store.base.Store`, in batches."""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.sinks.base import Event, Sink
from pipelines.store.base import Store


class StoreSink(Sink):
    def __init__(self, store: Store, batch_size: int = 2000) -> None:
        self.store = store
        self.batch_size = batch_size
        self._pending: list[Event] = []

    def write(self, events: Sequence[Event]) -> None:
        self._pending.extend(events)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.store.write(self._pending)
            self._pending = []
