"""What every store does the same way with the asset inventory (records of
:mod:`pipelines.assets.model`, one per IP address).

Stores keep one merged record per address: ``upsert_assets`` adds the changes a sink collected
(:func:`pipelines.assets.model.merge_assets`) to what is stored, inside one transaction (SQLite)
or with optimistic concurrency (Elasticsearch), so two writers never lose each other's counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pipelines.store.base import QueryError

Asset = dict[str, Any]
AssetSort = Literal["risk", "last_seen"]
SORTS: tuple[str, ...] = ("risk", "last_seen")
MAX_TEXT = 200


@dataclass(slots=True)
class AssetFilter:
    """Which assets a search returns; a filter left at None matches all.

    ``text`` is a case-insensitive part of the address, a MAC, the vendor, a role, a protocol, a
    configured name or zone, or a fingerprint value; ``role``, ``zone`` (kind: ``ot``, ``5gc``,
    ``ran``, ``it``, ``dmz``) and ``protocol`` match exactly. ``sort``: ``risk`` (highest risk
    score, then severity, then alert count, then most recent) or ``last_seen`` (most recent
    first)."""

    text: str | None = None
    role: str | None = None
    zone: str | None = None
    protocol: str | None = None
    sort: AssetSort = "risk"

    def check(self) -> AssetFilter:
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.text is not None and len(self.text) > MAX_TEXT:
            raise QueryError(f"the search text is longer than {MAX_TEXT} characters")
        return self


def check_page(size: int, offset: int) -> None:
    if size < 1:
        raise QueryError(f"size must be at least 1, not {size}")
    if offset < 0:
        raise QueryError(f"offset must be 0 or more, not {offset}")
