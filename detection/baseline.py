"""Learned baselines: who talks to whom, with which operations, on which addresses, how often.

A baseline is learned from normal traffic (:class:`BaselineLearner`), written as sorted YAML a
person can review and diff, approved by a person (``approved: true``), and only then enforced:
:meth:`Baseline.violations` names what an event does that the baseline never saw — a new pair, a
new operation on a known pair, a Modbus write outside the learned register ranges, a value
written beyond the range learned for its register, IOA or object (:mod:`detection.values`) —
with what was expected and what was seen. Flows (``flow`` events) count too: their operation is
the service, ``tcp/502``, so a host opening a connection it never opened is a new pair. Local
name-service chatter between hosts the baseline knows is let pass
(:mod:`detection.name_services`).

Pairs are ``"client -> server"`` (a response counts on its request's pair), one entry per
protocol (event dataset) under each.

>>> learner = BaselineLearner()
>>> def request(fc, address, ts, **more):
...     return {"@timestamp": ts, "event": {"dataset": "modbus"},
...             "source": {"ip": "10.0.0.2"}, "destination": {"ip": "10.0.0.9"},
...             "modbus": {"function_code": fc, "address": address, **more}}
>>> learner.learn([request(3, 0, "2024-01-01T00:00:00Z", quantity=4),
...                request(6, 2, "2024-01-01T00:00:10Z")])
>>> baseline = learner.baseline()
>>> pair = baseline.pairs["10.0.0.2 -> 10.0.0.9"]["modbus"]
>>> pair.reads, pair.writes
({'holding_registers': [[0, 3]]}, {'holding_registers': [[2, 2]]})
>>> [v.kind for v in baseline.violations(request(6, 100, "2024-01-01T00:01:00Z"))]
['write_outside_range']
>>> [v.kind for v in baseline.violations(request(8, 0, "2024-01-01T00:01:00Z"))]
['new_operation']
>>> learner.learn([request(6, 2, "2024-01-01T00:00:20Z", values=[50]),
...                request(6, 2, "2024-01-01T00:00:30Z", values=[60])])
>>> learner.baseline().pairs["10.0.0.2 -> 10.0.0.9"]["modbus"].values
{'holding_registers 2': [50, 60]}
>>> [v.observed for v in learner.baseline().violations(
...     request(6, 2, "2024-01-01T00:01:00Z", values=[900]))]
['holding_registers 2 = 900']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection.name_services import NAME_SERVICES, group_address, known_hosts, name_service
from detection.operations import (
    Event,
    client_server,
    register_span,
    view_of,
    write_span,
)
from detection.values import describe, outside, widen, written_values
from liaowang.events import iso_timestamp, parse_timestamp

BASELINE_VERSION = 1
Ranges = list[list[int]]


def pair_key(client: str, server: str) -> str:
    return f"{client} -> {server}"


def merge_ranges(ranges: Iterable[Iterable[int]]) -> Ranges:
    """Sorted, non-overlapping ``[first, last]`` ranges; adjacent ones join.

    >>> merge_ranges([[10, 12], [0, 3], [4, 5], [11, 20]])
    [[0, 5], [10, 20]]
    """
    merged: Ranges = []
    for first, last in sorted(tuple(r) for r in ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return merged


def covered(ranges: Ranges, first: int, last: int) -> bool:
    """Whether ``first..last`` lies inside one of the (merged) ``ranges``."""
    return any(lo <= first and last <= hi for lo, hi in ranges)


def describe_ranges(table: str, ranges: Ranges) -> list[str]:
    return [f"{table} {lo}-{hi}" for lo, hi in ranges] or [f"{table}: none"]


@dataclass(slots=True)
class ProtocolBaseline:
    """What one pair was seen doing with one protocol."""

    operations: dict[str, int] = field(default_factory=dict)
    reads: dict[str, Ranges] = field(default_factory=dict)
    writes: dict[str, Ranges] = field(default_factory=dict)
    requests: int = 0
    requests_per_minute: dict[str, float] = field(default_factory=dict)
    interval_seconds: dict[str, float] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"operations": self.operations, "reads": self.reads, "writes": self.writes,
                "requests": self.requests, "requests_per_minute": self.requests_per_minute,
                "interval_seconds": self.interval_seconds, "values": self.values}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProtocolBaseline:
        return cls({str(k): int(v) for k, v in data.get("operations", {}).items()},
                   data.get("reads", {}), data.get("writes", {}), int(data.get("requests", 0)),
                   data.get("requests_per_minute", {}), data.get("interval_seconds", {}),
                   data.get("values") or {})


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # new_pair, new_operation, write_outside_range, value_outside_range
    reason: str
    expected: list[str]
    observed: str


@dataclass(slots=True)
class Baseline:
    pairs: dict[str, dict[str, ProtocolBaseline]] = field(default_factory=dict)
    start: str | None = None
    end: str | None = None
    approved: bool = False
    approved_by: str | None = None
    approved_at: str | None = None
    name_services: list[str] = field(default_factory=lambda: list(NAME_SERVICES))
    _clients: dict[tuple[str, str], ProtocolBaseline] = field(
        default_factory=dict, repr=False, compare=False)
    _hosts: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def violations(self, event: Event) -> list[Violation]:
        """What ``event`` does that this baseline never saw (whether approved or not)."""
        view, ends = view_of(event), client_server(event)
        if view is None or ends is None or self.known_name_lookup(event, ends):
            return []
        key, dataset = pair_key(*ends), event["event"]["dataset"]
        if dataset not in self.pairs.get(key, {}):
            return [self._new_pair(key, dataset)]
        learned = self.client_wide(ends[0], dataset)
        found = []
        operation = view.operation(event)
        if operation is not None and operation not in learned.operations:
            found.append(Violation(
                "new_operation",
                f"{key}: {dataset} operation {operation} never seen from this client",
                sorted(learned.operations, key=_natural), operation))
        return found + _write_violations(event, key, learned) + _value_violations(
            event, key, learned)

    def known_name_lookup(self, event: Event, ends: tuple[str, str]) -> bool:
        """Whether ``event`` is name-service chatter between hosts this baseline knows
        (why that is no violation: :mod:`detection.name_services`)."""
        if name_service(event, self.name_services) is None:
            return False
        if self._hosts is None:
            self._hosts = known_hosts(self.pairs)
        client, server = ends
        return client in self._hosts and (server in self._hosts or group_address(server))

    def client_wide(self, client: str, dataset: str) -> ProtocolBaseline:
        """What ``client`` was seen doing with ``dataset`` towards any of its servers.

        A master that writes coil 3 of one of its RTUs may write coil 3 of another it already
        polls: operations, written addresses and value ranges are checked against the client's
        whole behaviour, while a server it never talked to stays a new pair.
        """
        cached = self._clients.get((client, dataset))
        if cached is None:
            prefix = pair_key(client, "")
            cached = _union([protocols[dataset] for key, protocols in self.pairs.items()
                             if key.startswith(prefix) and dataset in protocols])
            self._clients[(client, dataset)] = cached
        return cached

    def _new_pair(self, key: str, dataset: str) -> Violation:
        known = sorted(p for p, protocols in self.pairs.items() if dataset in protocols)
        return Violation("new_pair", f"{key}: {dataset} between hosts never seen talking",
                         known, key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "liaowang_baseline": BASELINE_VERSION,
            "approved": self.approved,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "name_services": self.name_services,
            "span": {"start": self.start, "end": self.end},
            "pairs": {key: {ds: pb.to_dict() for ds, pb in protocols.items()}
                      for key, protocols in self.pairs.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        pairs = {key: {ds: ProtocolBaseline.from_dict(pb) for ds, pb in protocols.items()}
                 for key, protocols in (data.get("pairs") or {}).items()}
        span = data.get("span") or {}
        services = data.get("name_services")
        return cls(pairs, span.get("start"), span.get("end"), bool(data.get("approved")),
                   data.get("approved_by"), data.get("approved_at"),
                   list(NAME_SERVICES) if services is None else [str(s) for s in services])


def _union(learned: list[ProtocolBaseline]) -> ProtocolBaseline:
    """One client's behaviour over all its servers (for checking, not for the file)."""
    union = ProtocolBaseline()
    for one in learned:
        for operation, count in one.operations.items():
            union.operations[operation] = union.operations.get(operation, 0) + count
        for table, ranges in one.writes.items():
            union.writes[table] = merge_ranges([*union.writes.get(table, []), *ranges])
        for point, (low, high) in one.values.items():
            widen(union.values, point, low)
            widen(union.values, point, high)
    return union


def _natural(operation: str) -> tuple[int, str]:
    return (int(operation), "") if operation.isdigit() else (1 << 30, operation)


def _write_violations(event: Event, key: str, learned: ProtocolBaseline) -> list[Violation]:
    spans = [(s[0], s[2], s[3]) for s in [register_span(event)] if s and s[1] == "write"]
    spans += [s for s in [write_span(event)] if s]
    found = []
    for table, first, last in spans:
        ranges = learned.writes.get(table, [])
        if not covered(ranges, first, last):
            found.append(Violation(
                "write_outside_range",
                f"{key}: write to {table} {first}-{last} outside the learned write ranges",
                describe_ranges(table, ranges), f"{table} {first}-{last}"))
    return found


def _value_violations(event: Event, key: str, learned: ProtocolBaseline) -> list[Violation]:
    """Values written beyond the range learned for their point (points never written are
    the business of :func:`_write_violations`)."""
    found = []
    for point, value in written_values(event):
        known = learned.values.get(point)
        if known is not None and outside(known, value):
            found.append(Violation(
                "value_outside_range",
                f"{key}: {point} written {value:g}, outside the learned range "
                f"{known[0]:g}..{known[1]:g}", [describe(point, known)], f"{point} = {value:g}"))
    return found


@dataclass(slots=True)
class _PairLog:
    operations: Counter[str] = field(default_factory=Counter)
    reads: dict[str, Ranges] = field(default_factory=lambda: defaultdict(list))
    writes: dict[str, Ranges] = field(default_factory=lambda: defaultdict(list))
    request_times: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)


class BaselineLearner:
    """Learns a :class:`Baseline` from batches of normal events, in event-time order."""

    def __init__(self) -> None:
        self._logs: dict[tuple[str, str], _PairLog] = defaultdict(_PairLog)
        self._start: int | None = None
        self._end: int | None = None

    def learn(self, events: Iterable[Event]) -> None:
        for event in events:
            self._learn_one(event)

    def _learn_one(self, event: Event) -> None:
        view, ends = view_of(event), client_server(event)
        if view is None or ends is None:
            return
        ts = parse_timestamp(event["@timestamp"])
        self._start = ts if self._start is None else min(self._start, ts)
        self._end = ts if self._end is None else max(self._end, ts)
        log = self._logs[(pair_key(*ends), event["event"]["dataset"])]
        operation = view.operation(event)
        if operation is not None:
            log.operations[operation] += 1
        if not view.is_response(event):
            log.request_times.append(ts)
        _log_span(log, event)
        for point, value in written_values(event):
            widen(log.values, point, value)

    def baseline(self) -> Baseline:
        baseline = Baseline(
            start=iso_timestamp(self._start) if self._start is not None else None,
            end=iso_timestamp(self._end) if self._end is not None else None)
        for (key, dataset), log in sorted(self._logs.items()):
            baseline.pairs.setdefault(key, {})[dataset] = _summarise(log)
        return baseline


def _log_span(log: _PairLog, event: Event) -> None:
    span = register_span(event)
    if span is not None:
        table, access, first, last = span
        (log.writes if access == "write" else log.reads)[table].append([first, last])
    written = write_span(event)
    if written is not None:
        log.writes[written[0]].append([written[1], written[2]])


def _summarise(log: _PairLog) -> ProtocolBaseline:
    return ProtocolBaseline(
        operations=dict(log.operations),
        reads={t: merge_ranges(r) for t, r in log.reads.items()},
        writes={t: merge_ranges(r) for t, r in log.writes.items()},
        requests=len(log.request_times),
        requests_per_minute=_per_minute(log.request_times),
        interval_seconds=_intervals(log.request_times),
        values=dict(sorted(log.values.items())))


def _per_minute(times: list[int]) -> dict[str, float]:
    if not times:
        return {}
    counts = np.unique(np.asarray(times) // 60_000_000, return_counts=True)[1]
    return {"median": float(np.median(counts)), "max": float(counts.max())}


def _intervals(times: list[int]) -> dict[str, float]:
    if len(times) < 2:
        return {}
    gaps = np.diff(np.sort(np.asarray(times))) / 1e6
    return {"median": round(float(np.median(gaps)), 6), "p95": round(float(
        np.quantile(gaps, 0.95)), 6)}
