"""Fusion: every alert (signature, baseline, anomaly, threat intel) passes here once before the
sinks, to get its risk score and to have its repeats folded.

Risk score
----------
``event.risk_score`` (0-100) weighs how sure and how bad the finding is against what it touches::

    signal  = S + (1 - S) * A / 2          S = severity / 4   (severity 1-4; 2 when missing)
                                           A = anomaly.score in [0, 1] (0 when missing)
    context = (0.7 * (C - 1) + 0.3 * (Z - 1)) / 4
                                           C = the higher asset criticality of source and
                                               destination (1-5; 3 when neither is known)
                                           Z = the higher zone criticality of the two (1-5; 3)
    risk    = 100 * signal * (1 + context) / 2

So a critical-severity alert on a critical asset in a critical zone scores 100, a low-severity
alert between unknown hosts 18.75, and the same alert on a critical PLC scores more than on an
office printer. Every input pushes the score up or leaves it, never down: ``signal`` grows with S
(its slope ``1 - A/2`` is positive) and with A (``(1 - S)/2 >= 0``), ``context`` with C and Z,
and both factors are positive. The anomaly score adds to the severity instead of replacing it, so
an alert a model is sure of ranks above one of the same severity it is not.

Repeats
-------
A repeat is an alert of the same rule between the same source and destination within
``window_s`` seconds (event time, before or after) of the first of its window; an alert further
away, such as one from an older capture replayed after a newer one, opens a window of its own.
The first goes out at once; the repeats are held back. With ``repeats="count"``, when the window
closes (an alert or event of a later time arrives, or the input ends) one alert stands for the
held ones, right before what closed it, so where batches begin and end changes nothing. It is
the latest of them, with its own id, ``alert.repeat_count`` (occurrences in the window, the
first included) and ``alert.repeat_of`` (the id of the first), spanning ``event.start`` to
``event.end``; every other alert that passes has ``alert.repeat_count: 1``, and an alert that
already has it (fused by the sensor that shipped it to a console) is scored, never folded again.
With ``"drop"`` the repeats are only counted (:attr:`Fusion.dropped`); ``"keep"`` lets every
alert through. State is bounded by ``max_keys`` windows; the oldest is closed early
beyond that.

Fusion knows addresses only through the ``lookup`` it is given (any callable from an address
to a :class:`~liaowang.assets.Placement`); it reads no configuration.

>>> def alert(name):
...     return {"@timestamp": "2024-01-01T00:00:00Z", "rule": {"id": "r"},
...             "event": {"id": name, "kind": "alert", "severity": 4},
...             "source": {"ip": "10.0.0.1"}, "destination": {"ip": "10.0.0.2"}}
>>> fusion = Fusion(window_s=60)
>>> [out] = fusion([alert("a")])
>>> out["event"]["risk_score"], out["alert"]
(75.0, {'repeat_count': 1})
>>> fusion([alert("b")])
[]
>>> [summary] = fusion.finish()
>>> summary["alert"]
{'repeat_count': 2, 'repeat_of': 'a'}
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from liaowang.assets import NOWHERE, Placement
from liaowang.events import Deadline, event_id, get_field, iso_timestamp, timestamp_us

Event = dict[str, Any]
Lookup = Callable[[str], Placement]
Repeats = Literal["count", "drop", "keep"]

UNKNOWN_SEVERITY = 2
NEUTRAL_CRITICALITY = 3
ASSET_WEIGHT, ZONE_WEIGHT = 0.7, 0.3
MAX_KEYS = 100_000
EARLIEST_US = -(2**63)


def risk_score(severity: int, anomaly: float | None = None, asset_criticality: int | None = None,
               zone_criticality: int | None = None) -> float:
    """The 0-100 risk of the module docstring's formula (rounded to 0.01).

    >>> risk_score(4, None, 5, 5), risk_score(1), risk_score(3, 0.9, 5) > risk_score(3, 0.9, 2)
    (100.0, 18.75, True)
    """
    strength = min(max(severity, 1), 4) / 4
    sureness = min(max(anomaly or 0.0, 0.0), 1.0)
    signal = strength + (1 - strength) * sureness / 2
    asset = min(max(asset_criticality or NEUTRAL_CRITICALITY, 1), 5)
    zone = min(max(zone_criticality or NEUTRAL_CRITICALITY, 1), 5)
    context = (ASSET_WEIGHT * (asset - 1) + ZONE_WEIGHT * (zone - 1)) / 4
    return round(100 * signal * (1 + context) / 2, 2)


@dataclass(slots=True)
class _Window:
    """The repeats of one (rule, source, destination) since the first that went out."""

    first_id: str
    start_us: int      # the first's time: the window's anchor
    last_us: int
    earliest_us: int   # a repeat may come a little before the first (several detectors)
    count: int = 1
    latest: Event | None = None


class Fusion:
    """The fusion step: ``__call__`` takes a batch (events and alerts) and returns it with the
    alerts scored and their repeats held back; :meth:`finish` returns what the end closes."""

    def __init__(self, lookup: Lookup | None = None, window_s: float = 300.0,
                 repeats: Repeats = "count", max_keys: int = MAX_KEYS) -> None:
        if window_s < 0 or max_keys < 1:
            raise ValueError("window_s must not be negative, max_keys must be at least 1")
        self.lookup = lookup
        self.window_us = int(window_s * 1_000_000)
        self.repeats = repeats
        self.max_keys = max_keys
        self.dropped = 0
        self._windows: OrderedDict[tuple[Any, ...], _Window] = OrderedDict()
        self._closed: list[Event] = []   # alerts of windows closed by a repeat's successor
        self._deadline = Deadline()       # when the oldest window ends

    def __call__(self, events: list[Event]) -> list[Event]:
        passed: list[Event] = []
        for event in events:
            if (now := self._deadline.passed_by(event)) is not None:
                passed += self._close_before(now - self.window_us)
            if get_field(event, "event.kind") != "alert":
                passed.append(event)
                continue
            self.score(event)
            first = self._first_of_window(event)
            passed += self._close_before(EARLIEST_US)   # only what the alert closed
            if first:
                passed.append(event)
        return passed

    def finish(self) -> list[Event]:
        """The alerts standing for repeats still held: the end of the input closes every
        window."""
        return self._close_before(None)

    def score(self, alert: Event) -> None:
        """Set ``event.risk_score`` of ``alert`` from its fields and its endpoints' places."""
        places = [self._place(get_field(alert, f"{side}.ip")) for side in ("source", "destination")]
        severity = get_field(alert, "event.severity")
        anomaly = get_field(alert, "anomaly.score")
        alert["event"]["risk_score"] = risk_score(
            severity if isinstance(severity, int) else UNKNOWN_SEVERITY,
            float(anomaly) if isinstance(anomaly, int | float) else None,
            _highest(p.asset.criticality for p in places if p.asset),
            _highest(p.zone.level for p in places if p.zone))

    def _place(self, address: Any) -> Placement:
        if self.lookup is None or not isinstance(address, str):
            return NOWHERE
        return self.lookup(address)

    # --- repeats --------------------------------------------------------------------------------

    def _first_of_window(self, alert: Event) -> bool:
        """Whether ``alert`` goes out now (the first of a window) or is held as a repeat."""
        if get_field(alert, "alert.repeat_count") is not None:
            return True   # fused already (by the sensor that shipped it): counted there
        alert.setdefault("alert", {})["repeat_count"] = 1
        ts = timestamp_us(alert)
        if self.repeats == "keep" or self.window_us == 0 or ts is None:
            return True
        key = _repeat_key(alert)
        window = self._windows.get(key)
        if window is not None and abs(ts - window.start_us) < self.window_us:
            window.count += 1
            window.last_us = max(window.last_us, ts)
            window.earliest_us = min(window.earliest_us, ts)
            if self.repeats == "count":
                window.latest = alert
            else:
                self.dropped += 1
            return False
        closed = self._close(key) if window is not None else []
        self._windows[key] = _Window(str(alert["event"].get("id", "")), ts, ts, ts)
        self._closed.extend(closed)
        return True

    def _close_before(self, cutoff_us: int | None) -> list[Event]:
        """Close, in the order they opened, the windows that started before ``cutoff_us`` (all
        of them for ``None``) and the oldest beyond :attr:`max_keys`; with what a repeat's
        successor closed first."""
        out, self._closed = self._closed, []
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if (cutoff_us is not None and window.start_us >= cutoff_us
                    and len(self._windows) <= self.max_keys):
                break
            out.extend(self._close(key))
        oldest = next(iter(self._windows.values()), None)
        self._deadline.set(None if oldest is None else oldest.start_us + self.window_us)
        return out

    def _close(self, key: tuple[Any, ...]) -> list[Event]:
        window = self._windows.pop(key)
        if window.latest is None:
            return []
        return [_standing_for(window)]


def _standing_for(window: _Window) -> Event:
    """The alert that stands for a window's repeats: the latest, counted and spanned."""
    assert window.latest is not None
    alert = copy.deepcopy(window.latest)
    meta = alert["event"]
    meta["id"] = event_id(window.first_id, "repeats", window.start_us)
    meta["start"] = iso_timestamp(window.earliest_us)
    meta["end"] = iso_timestamp(window.last_us)
    alert["alert"] = {**alert.get("alert", {}), "repeat_count": window.count,
                      "repeat_of": window.first_id}
    return alert


def _repeat_key(alert: Event) -> tuple[Any, ...]:
    return (get_field(alert, "rule.id") or get_field(alert, "rule.name"),
            get_field(alert, "source.ip"), get_field(alert, "destination.ip"))


def _highest(values: Any) -> int | None:
    return max(values, default=None)


