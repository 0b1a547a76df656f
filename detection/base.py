"""The detector contract: events in, alerts out.

A detector sees every batch of events in order (event time, as the sensor emits them) and returns
the alerts they complete, each with the index in the batch of the event that completed it; state
(correlation windows, baselines) stays inside it and bounded. ``finish`` returns what only the
end of the input completes. Alerts are events with ``event.kind: alert`` (see ARCHITECTURE.md).

:func:`detect` puts each alert right after the event that raised it, so what the steps after the
detectors see (fusion, incidents, the sinks) is the same however the input was cut into batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from liaowang.events import inserted

Event = dict[str, Any]
Placed = tuple[int, Event]   # (index of the event that raised it, the alert)


class Detector(Protocol):
    def place(self, events: Sequence[Event]) -> list[Placed]:
        """The alerts this batch raises, each with the index of the event that raised it."""
        ...

    def finish(self) -> list[Event]:
        """The alerts the end of the input raises."""
        ...


def alerts_of(placed: Sequence[Placed]) -> list[Event]:
    return [alert for _, alert in placed]


def detect(detectors: Sequence[Detector], events: list[Event]) -> list[Event]:
    """``events`` with every alert they raise right after the event that raised it (several
    after one event in the detectors' order).

    >>> class Echo:
    ...     def place(self, events):
    ...         return [(i, {"alert": e}) for i, e in enumerate(events) if e == "x"]
    >>> detect([Echo()], ["a", "x", "b"])
    ['a', 'x', {'alert': 'x'}, 'b']
    """
    placed = [item for detector in detectors for item in detector.place(events)]
    return inserted(events, [(index + 1, alert) for index, alert in placed])
