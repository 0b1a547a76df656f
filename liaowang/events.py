"""Builders for events in the schema of :mod:`liaowang.schema`.

Times travel through the sensor as integer microseconds since the epoch, and become ECS
``@timestamp`` strings only here.

>>> iso_timestamp(1445508000123456)
'2015-10-22T10:00:00.123456Z'
>>> new_event("modbus", 1445508000123456, "tap-1")["event"]["dataset"]
'modbus'
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from hashlib import blake2b
from operator import itemgetter
from typing import Any, TypeVar

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
ID_SEPARATOR = "\x1f"     # between the parts of an event id
Item = TypeVar("Item")


def iso_timestamp(ts_us: int) -> str:
    """ECS timestamp (UTC, microseconds) of integer microseconds since the epoch."""
    seconds, micros = divmod(ts_us, 1_000_000)
    return f"{_second(seconds)}.{micros:06d}Z"


def iso_second(seconds: int) -> str:
    """ECS timestamp (UTC) of whole seconds since the epoch, without a fraction.

    >>> iso_second(1445508000)
    '2015-10-22T10:00:00Z'
    """
    return f"{_second(seconds)}Z"


@lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def parse_timestamp(text: str) -> int:
    """Integer microseconds since the epoch of an ISO 8601 timestamp."""
    moment = datetime.fromisoformat(text)   # since Python 3.11 it reads a final "Z" itself
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND   # every stored event passes here: kept cheap


def timestamp_us(event: Mapping[str, Any]) -> int | None:
    """``@timestamp`` in microseconds, or None when the event has none that reads as a time."""
    return _readable_time(event.get("@timestamp"))


def inserted(items: list[Item], extras: list[tuple[int, Item]]) -> list[Item]:
    """``items`` with each ``(position, extra)`` put in before ``items[position]`` (at the end
    for ``len(items)``): events made apart from a stream, put where they belong in it. Extras
    of one position keep their order.

    >>> inserted(["a", "b"], [(2, "z"), (0, "x"), (0, "y")])
    ['x', 'y', 'a', 'b', 'z']
    """
    if not extras:
        return items
    merged: list[Item] = []
    taken = 0
    for position, extra in sorted(extras, key=itemgetter(0)):
        merged += items[taken:position]
        merged.append(extra)
        taken = position
    return merged + items[taken:]


class Deadline:
    """A moment of event time that a stream of events is watched for passing (a window's end),
    at the cost of a text comparison for most events: timestamps in the form
    :func:`iso_timestamp` writes sort as text as they do in time; others are parsed.

    >>> deadline = Deadline()
    >>> deadline.set(1445508000000000)
    >>> deadline.passed_by({"@timestamp": "2015-10-22T09:59:59.000000Z"}) is None
    True
    >>> deadline.passed_by({"@timestamp": "2015-10-22T18:00:01+08:00"})
    1445508001000000
    >>> deadline.passed_by({"@timestamp": "2015-10-22 10:00:01.000000Z"})
    1445508001000000
    """

    __slots__ = ("_text", "us")

    def __init__(self) -> None:
        self.us: int | None = None
        self._text = ""

    def set(self, us: int | None) -> None:
        """Watch for ``us`` (None: for nothing)."""
        self.us = us
        self._text = "" if us is None else iso_timestamp(us)

    def passed_by(self, event: Mapping[str, Any]) -> int | None:
        """The event's time when it is later than the deadline, else None."""
        if self.us is None:
            return None
        stamp = event.get("@timestamp")
        if not isinstance(stamp, str):
            return None
        if (len(stamp) == len(self._text) and stamp[10] == "T" and stamp[-1] == "Z"
                and stamp <= self._text):
            return None
        ts = _readable_time(stamp)
        return ts if ts is not None and ts > self.us else None


def _readable_time(stamp: object) -> int | None:
    if not isinstance(stamp, str):
        return None
    try:
        return parse_timestamp(stamp)
    except ValueError:
        return None


def event_id(*parts: object) -> str:
    """A stable id: the same event seen again (a retried batch) keeps the same id."""
    return joined_event_id(ID_SEPARATOR.join(map(str, parts)))


def joined_event_id(joined: str) -> str:
    """:func:`event_id` of parts the caller joined with ``ID_SEPARATOR`` itself: the sensor names
    every PDU and flow, and one f-string costs a third of ``join(map(str, parts))``.

    >>> joined_event_id(f"tap-1{ID_SEPARATOR}flow{ID_SEPARATOR}7") == event_id("tap-1", "flow", 7)
    True
    """
    return blake2b(joined.encode(), digest_size=12).hexdigest()


def new_event(dataset: str, ts_us: int, observer: str, kind: str = "event") -> dict[str, Any]:
    """The skeleton of an event: timestamp, kind, dataset and observer (no id yet)."""
    return {
        "@timestamp": iso_timestamp(ts_us),
        "event": {"kind": kind, "dataset": dataset},
        "observer": {"name": observer},
    }


def capture_of(event: Mapping[str, Any]) -> str | None:
    """The capture an event's ``pcap.frame`` counts in: its file's path (``log.file.path``),
    else its name (``pcap.file``); None for a live interface, whose frames are counted on.

    >>> capture_of({"pcap": {"file": "a.pcap", "frame": 3}})
    'a.pcap'
    """
    log, pcap = event.get("log"), event.get("pcap")
    if type(log) is dict and type(file := log.get("file")) is dict and file.get("path"):
        return file["path"]
    return pcap.get("file") if type(pcap) is dict else None


def get_field(event: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted ECS name, or None."""
    if dotted in event:
        return event[dotted]
    node: Any = event
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def flatten(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted name → leaf value."""
    flat: dict[str, Any] = {}
    for key, value in event.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
