"""The sink interface: accept batches of events, flush, close."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

Event = dict[str, Any]


class Sink(ABC):
    @abstractmethod
    def write(self, events: Sequence[Event]) -> None:
        """Accept a batch of events."""

    def flush(self) -> None:
        """Push out anything buffered."""

    def finish(self) -> None:
        """The input has ended: write what was held back for later input (fusion's repeats)."""

    def close(self) -> None:
        self.flush()
