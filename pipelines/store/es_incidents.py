"""Incidents in the Elasticsearch store: the ``<prefix>-incidents`` index.

One document per incident, its id the incident's. The index has the explicit mappings of the
event schema (``incident.*`` included), like the alerts index, and is kept apart from the daily
event indices: incidents change, and retention must not drop them. A new version from the
correlator is written over the stored one with optimistic concurrency (``if_seq_no``), so an
analyst's triage made in between is never lost: the write is tried again with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import elasticsearch

from liaowang.events import iso_timestamp, parse_timestamp
from pipelines.store.base import Event, QueryError, SearchResult, StoreError, merge_patch
from pipelines.store.incidents import (
    IncidentFilter,
    check_incident,
    check_update,
    decode_cursor,
    encode_cursor,
    keep_triage,
)

CONFLICT_RETRIES = 5
_SORTS = {
    "last_seen": [{"@timestamp": "desc"}, {"event.id": "desc"}],
    "risk": [{"event.risk_score": "desc"}, {"@timestamp": "desc"}, {"event.id": "desc"}],
}


class IncidentIndex:
    """The incidents of one :class:`~pipelines.store.elasticsearch.ElasticsearchStore`, through
    its ``call`` (which maps transport and server errors to store errors)."""

    def __init__(self, client: elasticsearch.Elasticsearch, name: str,
                 call: Callable[..., Any], refresh: bool | str) -> None:
        self.client, self.name, self.call, self.refresh = client, name, call, refresh

    def create(self, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        if self.call(self.client.indices.exists, index=self.name):
            return
        try:
            self.call(self.client.indices.create, index=self.name, settings=settings,
                      mappings=mappings)
        except elasticsearch.BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise StoreError(f"Elasticsearch: {exc}") from exc

    def write(self, incidents: Sequence[Event]) -> int:
        for incident in incidents:
            check_incident(incident)
        for incident in incidents:
            self._replace(incident["event"]["id"], functools.partial(_newer, incident))
        return len(incidents)

    def get(self, incident_id: str) -> Event | None:
        found = self._get(incident_id)
        return found["_source"] if found else None

    def update(self, incident_id: str, changes: dict[str, Any]) -> Event | None:
        def merged(stored: Event | None) -> Event | None:
            if stored is None:
                return None
            incident: Event = merge_patch(stored, changes)
            check_update(incident, incident_id)
            return incident

        return self._replace(incident_id, merged)

    def search(self, filters: IncidentFilter, size: int, cursor: str | None) -> SearchResult:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        sort = _SORTS[filters.sort]
        body: dict[str, Any] = {"query": _query(filters), "size": size + 1, "sort": sort,
                                "track_total_hits": True}
        if cursor:
            body["search_after"] = decode_cursor(cursor, len(sort))
        found = self.call(self.client.search, index=self.name, **body)
        hits = found["hits"]["hits"]
        more = len(hits) > size
        hits = hits[:size]
        next_cursor = encode_cursor(hits[-1]["sort"]) if more else None
        return SearchResult([hit["_source"] for hit in hits], found["hits"]["total"]["value"],
                            next_cursor)

    def _get(self, incident_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.call(self.client.get, index=self.name, id=incident_id)
            return found
        except elasticsearch.NotFoundError:
            return None

    def _replace(self, incident_id: str,
                 change: Callable[[Event | None], Event | None]) -> Event | None:
        """Write ``change(stored)`` unless another writer came first; then read and try again."""
        for _ in range(CONFLICT_RETRIES):
            found = self._get(incident_id)
            incident = change(found["_source"] if found else None)
            if incident is None:
                return None
            guard = ({"if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}
                     if found else {"op_type": "create"})
            try:
                self.call(self.client.index, index=self.name, id=incident_id, document=incident,
                          refresh=self.refresh, **guard)
                return incident
            except StoreError as exc:
                if not isinstance(exc.__cause__, elasticsearch.ConflictError):
                    raise
        raise StoreError(f"incident {incident_id!r} kept changing while it was written")


def _newer(incident: Event, stored: Event | None) -> Event:
    return keep_triage(incident, stored)


def _query(filters: IncidentFilter) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    if filters.status == "new":
        clauses.append({"bool": {"should": [
            {"bool": {"must_not": [{"exists": {"field": "incident.status"}}]}},
            {"term": {"incident.status": "new"}}], "minimum_should_match": 1}})
    elif filters.status:
        clauses.append({"term": {"incident.status": filters.status}})
    if filters.state:
        clauses.append({"term": {"incident.state": filters.state}})
    if filters.min_severity:
        clauses.append({"range": {"event.severity": {"gte": filters.min_severity}}})
    bounds = _bounds(filters)
    if bounds:
        clauses.append({"range": {"@timestamp": bounds}})
    return {"bool": {"filter": clauses}}


def _bounds(filters: IncidentFilter) -> dict[str, str]:
    when, bounds = filters.when, {}
    for text, name in ((when and when.start, "gte"), (when and when.end, "lt")):
        if text:
            try:
                bounds[name] = iso_timestamp(parse_timestamp(text))
            except ValueError as exc:
                raise QueryError(f"'{text}' is not an ISO 8601 time") from exc
    return bounds
