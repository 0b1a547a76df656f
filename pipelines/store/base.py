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
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.store.assets import AssetFilter
    from pipelines.store.incidents import IncidentFilter

Event = dict[str, Any]


class StoreError(Exception):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached."""


class QueryError(StoreError):
    """The query string is not valid; ``str()`` says where and why."""


def day_start_us(day: str) -> int:
    """Microseconds since the epoch at the start (UTC) of ``day``, a ``YYYY-MM-DD`` date.

    >>> day_start_us("1970-01-02")
    86400000000
    """
    try:
        start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{day!r} is not a day: use YYYY-MM-DD") from exc
    return int(start.timestamp()) * 1_000_000


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

    @abstractmethod
    def drop_before(self, day: str) -> int:
        """Delete the events (``event.kind: event``) of UTC days before ``day`` (``YYYY-MM-DD``);
        returns how many were deleted.

        Alerts are kept whatever their age: they are few, they carry triage decisions, and
        Elasticsearch keeps them in their own index apart from the daily event indices."""

    def retain(self, days: int, today: date | None = None) -> int:
        """Keep the events of ``today`` (UTC) and of the ``days`` days before it; drop older
        ones (see :meth:`drop_before`). Returns how many were deleted."""
        if days < 0:
            raise StoreError(f"retention must be 0 days or more, not {days}")
        today = today or datetime.now(UTC).date()
        return self.drop_before((today - timedelta(days=days)).isoformat())

    # --- incidents (documents of detection.incidents; see pipelines.store.incidents) ----------

    @abstractmethod
    def write_incidents(self, incidents: Sequence[Event]) -> int:
        """Store incidents apart from events; an id already stored is replaced, except for the
        triage fields an analyst set (``incident.status``, ``.assignee``, ``.comments``)."""

    @abstractmethod
    def search_incidents(self, filters: IncidentFilter | None = None, size: int = 100,
                         cursor: str | None = None) -> SearchResult:
        """Incidents matching ``filters``, in their sort order, ``size`` at a time."""

    @abstractmethod
    def get_incident(self, incident_id: str) -> Event | None:
        """The incident with this id, or None."""

    @abstractmethod
    def update_incident(self, incident_id: str, changes: dict[str, Any]) -> Event | None:
        """Merge triage ``changes`` into an incident, as :meth:`update_alert` does for alerts;
        None when there is no such incident. Its id, kind and dataset cannot change."""

    # --- the asset inventory (records of pipelines.assets.model; see pipelines.store.assets) ---

    @abstractmethod
    def upsert_assets(self, assets: Sequence[dict[str, Any]]) -> int:
        """Add asset records (changes, one per IP) to the stored ones with
        :func:`pipelines.assets.model.merge_assets`; a new IP is stored as given."""

    @abstractmethod
    def search_assets(self, filters: AssetFilter | None = None, size: int = 100,
                      offset: int = 0) -> SearchResult:
        """Asset records matching ``filters``, in their sort order, ``size`` from ``offset``."""

    @abstractmethod
    def get_asset(self, ip: str) -> dict[str, Any] | None:
        """The asset record of this IP address, or None."""

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
