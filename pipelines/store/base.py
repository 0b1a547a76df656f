"""The storage contract: one interface, every backend, one contract test suite.

Exceptions::

    StoreError               anything a store cannot do
    ├── StoreUnavailable     the backend cannot be reached (retry later; events wait in the spool)
    └── QueryError           a query string that does not parse or names no usable field
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


class StoreError(Exception):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached."""


class QueryError(StoreError):
    """The query string is not valid; ``str()`` says where and why."""


@dataclass(slots=True)
class SearchResult:
    data: list[Event]
    count: int
    cursor: str | None = None


@dataclass(slots=True)
class TimeRange:
    """Inclusive ``start``, exclusive ``end``; ISO 8601 strings, either may be open."""

    start: str | None = None
    end: str | None = None


@dataclass(slots=True)
class Bucket:
    key: Any
    count: int
    extra: dict[str, Any] = field(default_factory=dict)


class Store(ABC):
    """Where events and alerts are kept. Writes are idempotent on ``event.id``."""

    @abstractmethod
    def write(self, events: Sequence[Event]) -> int:
        """Store a batch; an id already stored is replaced, never duplicated. Returns the count."""

    @abstractmethod
    def search(self, query: str = "", when: TimeRange | None = None, size: int = 100,
               cursor: str | None = None) -> SearchResult:
        """Events matching a Lucene-style query, newest first, ``size`` at a time.

        ``count`` is the total number of matches; ``cursor``, when set, fetches the next page.
        """

    @abstractmethod
    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""

    @abstractmethod
    def histogram(self, query: str = "", when: TimeRange | None = None,
                  interval_s: int = 60) -> list[Bucket]:
        """Counts of matching events per time bucket (key: ISO start of the bucket), oldest first.

        Buckets are aligned to the epoch; empty buckets are left out."""

    @abstractmethod
    def terms(self, field: str, query: str = "", when: TimeRange | None = None,
              size: int = 10) -> list[Bucket]:
        """The most frequent values of ``field`` among matching events, most frequent first
        (ties by value); keys keep the field's JSON type."""

    @abstractmethod
    def update_alert(self, event_id: str, changes: dict[str, Any]) -> Event | None:
        """Merge triage ``changes`` (nested, e.g. ``{"alert": {"status": "closed"}}``) into an
        alert; returns the updated alert, or None when there is no alert with that id.

        The merge is :func:`merge_patch` (RFC 7386: ``None`` removes a key). ``event.id`` and
        ``event.kind`` cannot change."""

    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the JSON merge patch ``patch`` applied (RFC 7386); inputs are not changed.

    >>> merge_patch({"alert": {"status": "new", "owner": "ana"}}, {"alert": {"status": "closed",
    ...                                                                       "owner": None}})
    {'alert': {'status': 'closed'}}
    """
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
