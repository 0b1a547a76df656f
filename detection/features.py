"""Per-pair time-window features: what the anomaly models see.

Events are cut, per ``client -> server`` pair and protocol, into tumbling windows of event time
(aligned on multiples of the window length). A closed window becomes one row of
:data:`FEATURES`. Two of them compare the window with the pair's learned timing in the baseline,
so a master polling twenty times faster than it used to stands out even where another pair is
that fast by nature. :data:`FEATURE_SCHEMA_VERSION` changes whenever a row changes meaning; a
model file learned with another version is refused.

>>> builder = WindowBuilder(window_seconds=60)
>>> def poll(second):
...     return {"@timestamp": f"2024-01-01T00:00:{second:02d}Z", "event": {"dataset": "modbus",
...             "id": str(second)}, "source": {"ip": "10.0.0.2"},
...             "destination": {"ip": "10.0.0.9"}, "modbus": {"function_code": 3, "address": 0}}
>>> builder.add([poll(s) for s in range(0, 60, 10)])
[]
>>> [w.pair for w in builder.flush()]
['10.0.0.2 -> 10.0.0.9']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from detection.baseline import pair_key
from detection.operations import Event, ProtocolView, addresses, client_server, view_of
from liaowang.events import capture_of, get_field, parse_timestamp

FEATURE_SCHEMA_VERSION = 1
OWN_FEATURES: tuple[str, ...] = (
    "requests_per_second",
    "interval_mean_seconds",
    "interval_std_seconds",
    "operation_entropy_bits",
    "distinct_operations",
    "write_ratio",
    "error_ratio",
    "distinct_addresses",
)
FEATURES: tuple[str, ...] = (*OWN_FEATURES, "rate_vs_learned_log2", "interval_vs_learned_log2")
# The smallest difference worth a robust scale, per feature: a feature that never varied in
# training must not turn every small change into an anomaly.
MIN_SCALES: tuple[float, ...] = (0.05, 0.05, 0.05, 0.1, 1.0, 0.05, 0.05, 1.0, 0.5, 0.5)
MAX_EVIDENCE = 20
MAX_ADDRESSES = 4096
MAX_PAIRS = 100_000
INFINITE_US = 2**63


@dataclass(slots=True)
class Window:
    """What one pair did with one protocol during one window."""

    pair: str
    dataset: str
    start_us: int
    length_us: int
    request_times: list[int] = field(default_factory=list)
    operations: Counter[str] = field(default_factory=Counter)
    addresses: set[int] = field(default_factory=set)
    events: int = 0
    writes: int = 0
    errors: int = 0
    evidence_ids: list[str] = field(default_factory=list)
    evidence_frames: list[tuple[int, str | None]] = field(default_factory=list)  # (frame, capture)
    observer: str | None = None
    previous_request_us: int | None = None  # the pair's last request before this window
    last_event: Event | None = None

    @property
    def end_us(self) -> int:
        return self.start_us + self.length_us

    def add(self, event: Event, view: ProtocolView, ts: int) -> None:
        self.events += 1
        operation = view.operation(event)
        if operation is not None:
            self.operations[operation] += 1
        if not view.is_response(event):
            self.request_times.append(ts)
            self.writes += view.is_write(event)
        self.errors += view.is_error(event)
        self.last_event = event
        if len(self.addresses) < MAX_ADDRESSES:
            self.addresses.update(addresses(event, view))
        self._keep_evidence(event)

    def _keep_evidence(self, event: Event) -> None:
        self.observer = self.observer or get_field(event, "observer.name")
        if len(self.evidence_ids) >= MAX_EVIDENCE:
            return
        if (event_id := get_field(event, "event.id")) is not None:
            self.evidence_ids.append(event_id)
        if (frame := get_field(event, "pcap.frame")) is not None:
            self.evidence_frames.append((frame, capture_of(event)))


class WindowBuilder:
    """Cuts events into per-pair windows; returns the windows that event time has closed."""

    def __init__(self, window_seconds: float = 60.0) -> None:
        self.length_us = int(window_seconds * 1_000_000)
        self._open: dict[tuple[str, str], Window] = {}
        self._last_request: dict[tuple[str, str], int] = {}
        self._watermark = 0
        self._earliest_end = INFINITE_US   # no open window ends before it

    def add(self, events: Iterable[Event]) -> list[tuple[int, Window]]:
        """The windows ``events`` close, each with the index of the event that closed it: the
        next event of its pair and dataset outside it, or the first event a whole window length
        past its end (the pair went quiet). Each event's turn, so not the batches."""
        return [(index, window) for index, event in enumerate(events)
                for window in self._add_one(event)]

    def flush(self) -> list[Window]:
        """Every open window (the end of the input)."""
        windows = sorted(self._open.values(), key=lambda w: (w.start_us, w.pair, w.dataset))
        self._open.clear()
        self._earliest_end = INFINITE_US
        return windows

    def _add_one(self, event: Event) -> list[Window]:
        view, ends = view_of(event), client_server(event)
        if view is None or ends is None or not view.windowed:
            return []
        ts = parse_timestamp(event["@timestamp"])
        self._watermark = max(self._watermark, ts)
        key = (pair_key(*ends), event["event"]["dataset"])
        window, closed = self._open.get(key), []
        if window is not None and not window.start_us <= ts < window.end_us:
            closed.append(self._open.pop(key))
            window = None
        if window is None:
            start = ts - ts % self.length_us
            window = self._open[key] = Window(key[0], key[1], start, self.length_us,
                                              previous_request_us=self._last_request.get(key))
            self._earliest_end = min(self._earliest_end, window.end_us)
        window.add(event, view, ts)
        if window.request_times:
            if len(self._last_request) >= MAX_PAIRS:
                self._last_request.clear()  # bounded state: lose one interval per pair
            self._last_request[key] = window.request_times[-1]
        if self._earliest_end <= self._watermark - self.length_us:
            closed += self._close_before(self._watermark - self.length_us)
        return closed

    def _close_before(self, moment: int) -> list[Window]:
        """Windows that ended before ``moment``: their pair went quiet."""
        done = [k for k, w in self._open.items() if w.end_us <= moment]
        closed = [self._open.pop(k) for k in sorted(done)]
        self._earliest_end = min((w.end_us for w in self._open.values()), default=INFINITE_US)
        return closed


def entropy_bits(counts: Iterable[int]) -> float:
    """Shannon entropy of a histogram, in bits.

    >>> entropy_bits([5, 5]), entropy_bits([7])
    (1.0, 0.0)
    """
    values = np.asarray([c for c in counts if c > 0], dtype=float)
    if values.size == 0:
        return 0.0
    p = values / values.sum()
    return float(abs(-(p * np.log2(p)).sum()))


def window_features(window: Window) -> list[float]:
    """The window's own features (:data:`OWN_FEATURES`), before any comparison."""
    seconds = window.length_us / 1e6
    requests = len(window.request_times)
    times = window.request_times
    if window.previous_request_us is not None:
        times = [window.previous_request_us, *times]
    gaps = np.diff(np.asarray(times, dtype=float)) / 1e6
    return [
        requests / seconds,
        float(gaps.mean()) if gaps.size else seconds,
        float(gaps.std()) if gaps.size else 0.0,
        entropy_bits(window.operations.values()),
        float(len(window.operations)),
        window.writes / requests if requests else 0.0,
        window.errors / window.events if window.events else 0.0,
        float(len(window.addresses)),
    ]


def compared(own: list[float], pair_median: list[float] | None,
             window_seconds: float) -> list[float]:
    """``own`` followed by log2 of its rate and mean interval over the pair's learned medians
    (0 for a pair without any): the full row of :data:`FEATURES`."""
    if pair_median is None:
        return [*own, 0.0, 0.0]
    one_request = 1.0 / window_seconds
    rate = math.log2((own[0] + one_request) / (pair_median[0] + one_request))
    interval = math.log2((own[1] + 1e-3) / (pair_median[1] + 1e-3))
    return [*own, rate, interval]
