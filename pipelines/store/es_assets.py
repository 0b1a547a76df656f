"""The asset inventory in the Elasticsearch store: the ``<prefix>-assets`` index.

One document per address, its id the address. Only what searches filter and sort on is mapped
(address, times, roles, zone, protocols, risk, and a lower-cased search text); peers,
fingerprints and counts stay in ``_source`` unindexed, so hosts with many peers add no fields.
Changes are merged into the stored record and written back with optimistic concurrency
(``if_seq_no``): a record another writer changed in between is read and merged again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import elasticsearch

from pipelines.assets.model import merge_assets, search_text
from pipelines.store.assets import Asset, AssetFilter, check_page
from pipelines.store.base import SearchResult, StoreError

CONFLICT_RETRIES = 5
SEARCH_TEXT = "search_text"
_UNINDEXED = {"type": "object", "enabled": False}
MAPPINGS: dict[str, Any] = {"dynamic": False, "properties": {
    "ip": {"type": "ip"}, "first_seen": {"type": "date_nanos"},
    "last_seen": {"type": "date_nanos"}, "roles": {"type": "keyword"},
    "zone": {"type": "keyword"}, "protocol_names": {"type": "keyword"},
    "macs": {"type": "keyword"}, "vendor": {"type": "keyword"}, "events": {"type": "long"},
    "risk": {"properties": {"score": {"type": "long"}, "max_severity": {"type": "long"},
                            "alerts": {"type": "long"}}},
    SEARCH_TEXT: {"type": "keyword", "ignore_above": 8191},
    "protocols": _UNINDEXED, "peers": _UNINDEXED, "fingerprints": _UNINDEXED,
    "configured": _UNINDEXED,
}}
_SORTS = {
    "risk": [{"risk.score": "desc"}, {"risk.max_severity": "desc"}, {"risk.alerts": "desc"},
             {"last_seen": "desc"}, {"ip": "asc"}],
    "last_seen": [{"last_seen": "desc"}, {"ip": "asc"}],
}


class AssetIndex:
    """The assets of one :class:`~pipelines.store.elasticsearch.ElasticsearchStore`, through
    its ``call`` (which maps transport and server errors to store errors)."""

    def __init__(self, client: elasticsearch.Elasticsearch, name: str,
                 call: Callable[..., Any], refresh: bool | str) -> None:
        self.client, self.name, self.call, self.refresh = client, name, call, refresh
        self.ready = False

    def create(self, settings: dict[str, Any]) -> None:
        if self.ready or self.call(self.client.indices.exists, index=self.name):
            self.ready = True
            return
        try:
            self.call(self.client.indices.create, index=self.name, settings=settings,
                      mappings=MAPPINGS)
        except elasticsearch.BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise StoreError(f"Elasticsearch: {exc}") from exc
        self.ready = True

    def upsert(self, changes: Sequence[Asset]) -> int:
        pending = {change["ip"]: change for change in changes}
        for _ in range(CONFLICT_RETRIES):
            if not pending:
                return len(changes)
            pending = self._upsert_once(pending)
        if pending:
            raise StoreError(f"{len(pending)} assets kept changing while they were written")
        return len(changes)

    def get(self, ip: str) -> Asset | None:
        try:
            found = self.call(self.client.get, index=self.name, id=ip)
        except elasticsearch.NotFoundError:
            return None
        return _record(found["_source"])

    def search(self, filters: AssetFilter, size: int, offset: int) -> SearchResult:
        check_page(size, offset)
        found = self.call(self.client.search, index=self.name, query=_query(filters.check()),
                          sort=_SORTS[filters.sort], size=size, from_=offset,
                          track_total_hits=True)
        hits = found["hits"]["hits"]
        return SearchResult([_record(hit["_source"]) for hit in hits],
                            found["hits"]["total"]["value"])

    def _upsert_once(self, pending: dict[str, Asset]) -> dict[str, Asset]:
        """One read-merge-write round; returns the changes whose records changed meanwhile."""
        stored = self.call(self.client.mget, index=self.name, ids=list(pending))["docs"]
        operations: list[dict[str, Any]] = []
        for doc in stored:
            change = pending[doc["_id"]]
            if doc.get("found"):
                record = merge_assets(_record(doc["_source"]), change)
                action = {"index": {"_index": self.name, "_id": doc["_id"],
                                    "if_seq_no": doc["_seq_no"],
                                    "if_primary_term": doc["_primary_term"]}}
            else:
                record, action = change, {"create": {"_index": self.name, "_id": doc["_id"]}}
            operations += [action, {**record, SEARCH_TEXT: search_text(record)}]
        answer = self.call(self.client.bulk, operations=operations, refresh=self.refresh)
        return _conflicts(answer, pending)


def _conflicts(answer: dict[str, Any], pending: dict[str, Asset]) -> dict[str, Asset]:
    again, refused = {}, []
    for item in answer["items"]:
        result = next(iter(item.values()))
        if result["status"] == 409:
            again[result["_id"]] = pending[result["_id"]]
        elif result["status"] >= 300:
            refused.append(f"{result['_id']}: {result.get('error', {}).get('reason')}")
    if refused:
        raise StoreError(f"Elasticsearch refused {len(refused)} assets: {refused[:3]}")
    return again


def _record(source: dict[str, Any]) -> Asset:
    return {key: value for key, value in source.items() if key != SEARCH_TEXT}


def _query(filters: AssetFilter) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    if filters.text:
        clauses.append({"wildcard": {SEARCH_TEXT: {"value": f"*{_escaped(filters.text.lower())}*",
                                                   "case_insensitive": True}}})
    for field, value in (("zone", filters.zone), ("roles", filters.role),
                         ("protocol_names", filters.protocol)):
        if value:
            clauses.append({"term": {field: value}})
    return {"bool": {"filter": clauses}}


def _escaped(text: str) -> str:
    """Wildcard metacharacters taken literally."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
