"""The detector contract: events in, alerts out.

A detector sees every batch of events in order (event time, as the sensor emits them) and returns
the alerts they complete; state (correlation windows, baselines) stays inside it and bounded.
``finish`` returns what only the end of the input completes. Alerts are events with
``event.kind: alert`` (see ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Event = dict[str, Any]


class Detector(Protocol):
    def process(self, events: Sequence[Event]) -> list[Event]:
        """The alerts this batch raises."""
        ...

    def finish(self) -> list[Event]:
        """The alerts the end of the input raises."""
        ...


def detect(detectors: Sequence[Detector], events: list[Event]) -> list[Event]:
    """``events`` followed by every alert they raise."""
    alerts = [alert for detector in detectors for alert in detector.process(events)]
    return events + alerts if alerts else events
