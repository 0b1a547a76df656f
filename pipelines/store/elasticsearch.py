"""The Elasticsearch store: daily event indices behind an alias, a separate alerts index.

Layout, for the default prefix ``liaowang``:

- ``liaowang-events-YYYY.MM.DD``: events by the UTC day of their ``@timestamp``, made from the
  index template ``liaowang-events`` and searched through the alias ``liaowang-events``;
  retention drops whole days.
- ``liaowang-alerts``: alerts, which change state in triage and are kept apart from retention.

Mappings come from the event schema (:func:`mappings`): ``ip`` for addresses, ``keyword`` for
codes and names, ``date_nanos`` for times (microseconds survive), numbers as numbers, and unknown
fields kept in ``_source`` without indexing. Every value is also copied into one lower-cased
keyword, so a term without a field finds any part of any value, as in the SQLite store. Event ids
are document ids: a retried batch replaces, never duplicates. Bulk writes retry 429, 5xx and
connection errors with back-off, document by document.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import elasticsearch
from elasticsearch import Elasticsearch

from liaowang.events import get_field, iso_timestamp, parse_timestamp
from liaowang.schema import FIELDS, FieldSpec
from pipelines.query import (
    And,
    Cidr,
    Exists,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    Term,
    Text,
    Wildcard,
    field_spec,
    parse_query,
)
from pipelines.store.assets import Asset, AssetFilter
from pipelines.store.base import (
    Bucket,
    Event,
    QueryError,
    SearchResult,
    Store,
    StoreError,
    StoreUnavailable,
    TimeRange,
    day_start_us,
    merge_patch,
)
from pipelines.store.es_assets import AssetIndex
from pipelines.store.es_incidents import IncidentIndex
from pipelines.store.incidents import IncidentFilter, split_incidents

ALL_TEXT = "lw_text"
TEXT_SUBFIELD = "text"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DOWN_S = 10.0
ES_TYPES = {"keyword": "keyword", "ip": "ip", "date": "date_nanos", "integer": "long",
            "long": "long", "unsigned_long": "long", "float": "double", "boolean": "boolean"}
_REQUIRED = ("event.id", "@timestamp", "event.kind", "event.dataset")
_TRANSPORT_ERRORS = (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout)


def mappings() -> dict[str, Any]:
    """The index mappings of every schema field (also used to check the schema in tests)."""
    root: dict[str, Any] = {}
    for name, spec in FIELDS.items():
        node = root
        *parents, last = name.split(".") if not name.startswith("@") else [name]
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[last] = _leaf_mapping(spec)
    root[ALL_TEXT] = {"type": "keyword", "normalizer": "lw_lowercase", "ignore_above": 4096}
    return {"dynamic": False, "properties": root}


def _leaf_mapping(spec: FieldSpec) -> dict[str, Any]:
    if spec.type == "object":
        return {"type": "object", "enabled": False}
    leaf: dict[str, Any] = {"type": ES_TYPES[spec.type], "copy_to": ALL_TEXT}
    if spec.type == "keyword":
        leaf["ignore_above"] = 4096
    elif spec.type == "unsigned_long":
        # The ``unsigned_long`` type is an x-pack module; values of 2^63 and above (PFCP's
        # all-ones SEIDs and volumes) stay in the document but are not searchable here.
        leaf["ignore_malformed"] = True
    elif spec.type != "date":
        # Wildcards on addresses and numbers (``source.ip:192.168.1.*``) read their text.
        leaf["fields"] = {TEXT_SUBFIELD: {"type": "keyword"}}
    return leaf


INDEX_SETTINGS = {
    "analysis": {"normalizer": {"lw_lowercase": {"type": "custom", "filter": ["lowercase"]}}},
    "number_of_replicas": 0,
    "mapping": {"total_fields": {"limit": 10_000}},   # every protocol's fields, in one index
}


class ElasticsearchStore(Store):
    """Events in the Elasticsearch cluster at ``url`` (``http(s)://[user:pass@]host:port``).

    ``refresh`` is the refresh policy of single changes (triage, incidents, assets):
    ``"wait_for"`` (the default) returns once the change is searchable, ``True`` forces it
    (tests), ``False`` leaves it to the index's interval. Batches of events are forced only with
    ``True``; otherwise they become searchable within the refresh interval (1 s), since waiting
    for a refresh after each bulk would index at most one batch per interval
    (``bench/store.py``)."""

    def __init__(self, url: str, *, prefix: str = "liaowang", ca_file: str | None = None,
                 verify: bool = True, refresh: bool | str = "wait_for", retries: int = 5,
                 backoff_s: float = 0.2, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        auth = (unquote(parts.username), unquote(parts.password or "")) \
            if parts.username else None
        host = f"{parts.scheme}://{parts.hostname}:{parts.port or 9200}"
        self.url = host
        self.prefix = prefix
        self.refresh = refresh
        self.retries, self.backoff_s = retries, backoff_s
        self.client = Elasticsearch(host, basic_auth=auth, ca_certs=ca_file,
                                    verify_certs=verify, request_timeout=timeout_s,
                                    max_retries=0)
        self.events_alias = f"{prefix}-events"
        self.alerts_index = f"{prefix}-alerts"
        self.incidents = IncidentIndex(self.client, f"{prefix}-incidents", self._call, refresh)
        self._incidents_ready = False
        self.assets = AssetIndex(self.client, f"{prefix}-assets", self._call, refresh)
        self._ready = False
        self._down_until = 0.0

    def __repr__(self) -> str:
        return f"ElasticsearchStore({self.url!r}, prefix={self.prefix!r})"

    # --- the contract ---------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> int:
        events, incidents = split_incidents(events)
        written = self.write_incidents(incidents) if incidents else 0
        if not events:
            return written
        self._ensure_ready()
        pending = [(self._index_of(event), event) for event in events]
        for attempt in range(self.retries + 1):
            pending = self._bulk(pending)
            if not pending:
                return len(events) + written
            time.sleep(self.backoff_s * 2 ** attempt)
        raise StoreUnavailable(f"{len(pending)} events not written after {self.retries} retries")

    def search(self, query: str = "", when: TimeRange | None = None, size: int = 100,
               cursor: str | None = None) -> SearchResult:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        body: dict[str, Any] = {
            "query": _filtered(query, when), "size": size + 1, "track_total_hits": True,
            "sort": [{"@timestamp": "desc"}, {"event.id": "desc"}],
        }
        if cursor:
            body["search_after"] = _decode_cursor(cursor)
        found = self._call(self.client.search, index=self._indices(), **body)
        hits = found["hits"]["hits"]
        more = len(hits) > size
        hits = hits[:size]
        next_cursor = _encode_cursor(hits[-1]["sort"]) if more else None
        return SearchResult([hit["_source"] for hit in hits], found["hits"]["total"]["value"],
                            next_cursor)

    def get(self, event_id: str) -> Event | None:
        found = self._call(self.client.search, index=self._indices(),
                           query={"ids": {"values": [event_id]}}, size=1)
        hits = found["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def histogram(self, query: str = "", when: TimeRange | None = None,
                  interval_s: int = 60) -> list[Bucket]:
        if interval_s < 1:
            raise QueryError(f"interval must be at least 1 s, not {interval_s}")
        aggregation = {"date_histogram": {"field": "@timestamp", "min_doc_count": 1,
                                          "fixed_interval": f"{int(interval_s)}s"}}
        found = self._aggregate(_filtered(query, when), aggregation)
        return [Bucket(iso_timestamp(int(b["key"]) * 1000), b["doc_count"]) for b in found]

    def terms(self, field: str, query: str = "", when: TimeRange | None = None,
              size: int = 10) -> list[Bucket]:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        spec = field_spec(field)
        aggregation = {"terms": {"field": field, "size": size,
                                 "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        found = self._aggregate(_filtered(query, when), aggregation)
        return [Bucket(_term_key(spec, b), b["doc_count"]) for b in found]

    def update_alert(self, event_id: str, changes: dict[str, Any]) -> Event | None:
        self._ensure_ready()
        try:
            current = self._call(self.client.get, index=self.alerts_index, id=event_id)
        except elasticsearch.NotFoundError:
            return None
        alert: Event = merge_patch(current["_source"], changes)
        if (get_field(alert, "event.id"), get_field(alert, "event.kind")) != (event_id, "alert"):
            raise StoreError("an update cannot change event.id or event.kind")
        self._call(self.client.index, index=self.alerts_index, id=event_id, document=alert,
                   refresh=self.refresh, if_seq_no=current["_seq_no"],
                   if_primary_term=current["_primary_term"])
        return alert

    def drop_before(self, day: str) -> int:
        """Delete the whole daily indices of days before ``day``; the alerts index stays."""
        day_start_us(day)   # refuses what is not a day
        cutoff = f"{self.events_alias}-{day.replace('-', '.')}"
        names = self._call(self.client.indices.get_alias, index=f"{self.events_alias}-*",
                           allow_no_indices=True, ignore_unavailable=True)
        old = sorted(name for name in names if name < cutoff)
        if not old:
            return 0
        counted = self._call(self.client.count, index=",".join(old))["count"]
        self._call(self.client.indices.delete, index=",".join(old))
        return int(counted)

    def write_incidents(self, incidents: Sequence[Event]) -> int:
        return self._incident_index().write(incidents) if incidents else 0

    def search_incidents(self, filters: IncidentFilter | None = None, size: int = 100,
                         cursor: str | None = None) -> SearchResult:
        return self._incident_index().search(filters or IncidentFilter(), size, cursor)

    def get_incident(self, incident_id: str) -> Event | None:
        return self._incident_index().get(incident_id)

    def update_incident(self, incident_id: str, changes: dict[str, Any]) -> Event | None:
        return self._incident_index().update(incident_id, changes)

    def _incident_index(self) -> IncidentIndex:
        """The incidents index, created with the schema's mappings on first use."""
        if not self._incidents_ready:
            self._ensure_ready()
            self.incidents.create(INDEX_SETTINGS, mappings())
            self._incidents_ready = True
        return self.incidents

    # --- the asset inventory (see pipelines.store.es_assets) --------------------------------------

    def upsert_assets(self, assets: Sequence[Asset]) -> int:
        return self._asset_index().upsert(assets) if assets else 0

    def search_assets(self, filters: AssetFilter | None = None, size: int = 100,
                      offset: int = 0) -> SearchResult:
        return self._asset_index().search(filters or AssetFilter(), size, offset)

    def get_asset(self, ip: str) -> Asset | None:
        return self._asset_index().get(ip)

    def _asset_index(self) -> AssetIndex:
        """The assets index, created on first use."""
        if not self.assets.ready:
            self._check_version()
            self.assets.create(INDEX_SETTINGS)
        return self.assets

    def close(self) -> None:
        self.client.close()

    # --- set-up and calls ------------------------------------------------------------------------

    def _ensure_ready(self) -> None:
        """Install the template and the alerts index once the cluster answers."""
        if self._ready:
            return
        self._check_version()
        body = {"settings": INDEX_SETTINGS, "mappings": mappings(),
                "aliases": {self.events_alias: {}}}
        self._call(self.client.indices.put_index_template, name=self.events_alias,
                   index_patterns=[f"{self.events_alias}-*"], template=body, priority=200)
        if not self._call(self.client.indices.exists, index=self.alerts_index):
            try:
                self._call(self.client.indices.create, index=self.alerts_index,
                           settings=INDEX_SETTINGS, mappings=mappings())
            except elasticsearch.BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise StoreError(f"Elasticsearch: {exc}") from exc
        self._ready = True

    def _check_version(self) -> None:
        nodes = self._call(self.client.nodes.info, node_id="_local", metric="_none")["nodes"]
        server = next(iter(nodes.values()))["version"]
        client_major = elasticsearch.__versionstr__.split(".")[0]
        if server.split(".")[0] != client_major:
            raise StoreError(f"Elasticsearch server {server} needs a client of the same major "
                             f"version; this one is {elasticsearch.__versionstr__}")

    def _indices(self) -> str:
        self._ensure_ready()
        # The daily indices by pattern: the alias exists only once the first one does.
        return f"{self.events_alias}-*,{self.alerts_index}"

    def _index_of(self, event: Event) -> str:
        values = {name: get_field(event, name) for name in _REQUIRED}
        missing = [name for name, value in values.items() if not isinstance(value, str)]
        if missing:
            raise StoreError(f"cannot store an event without {', '.join(missing)} "
                             f"(event.id: {values['event.id']!r})")
        if values["event.kind"] == "alert":
            return self.alerts_index
        try:
            day = datetime.fromtimestamp(parse_timestamp(values["@timestamp"]) / 1e6, UTC)
        except ValueError as exc:
            raise StoreError(f"event {values['event.id']!r}: {exc}") from exc
        return f"{self.events_alias}-{day:%Y.%m.%d}"

    def _bulk(self, pending: list[tuple[str, Event]]) -> list[tuple[str, Event]]:
        """One bulk request; returns what should be tried again."""
        operations: list[dict[str, Any]] = []
        for index, event in pending:
            operations += [{"index": {"_index": index, "_id": event["event"]["id"]}}, event]
        try:
            answer = self.client.bulk(operations=operations, refresh=self.refresh is True)
        except _TRANSPORT_ERRORS:
            return pending
        except elasticsearch.ApiError as exc:
            if exc.meta.status in RETRY_STATUSES:
                return pending
            raise StoreError(f"Elasticsearch bulk: {exc}") from exc
        if not answer["errors"]:
            return []
        retry, refused = [], []
        for item, entry in zip(answer["items"], pending, strict=True):
            result = item["index"]
            if result["status"] in RETRY_STATUSES:
                retry.append(entry)
            elif result["status"] >= 300:
                refused.append(f"{result['_id']}: {result.get('error', {}).get('reason')}")
        if refused:
            raise StoreError(f"Elasticsearch refused {len(refused)} events: {refused[:3]}")
        return retry

    def _aggregate(self, query: dict[str, Any], aggregation: dict[str, Any]) -> list[dict]:
        found = self._call(self.client.search, index=self._indices(), query=query, size=0,
                           aggregations={"result": aggregation})
        return found["aggregations"]["result"]["buckets"]

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """An API call, with transport failures and server errors as store errors; a busy or
        starting cluster (429, 5xx: a shard of a new index not started yet) is asked again.
        Once a call has failed every attempt, calls in the next ``DOWN_S`` seconds are tried
        once: a cluster that is down would otherwise hold every caller (a live sensor's asset
        flush, a console page) for the whole back-off."""
        attempts = 0 if time.monotonic() < self._down_until else self.retries
        for attempt in range(attempts):
            try:
                return self._call_once(method, **kwargs)
            except StoreUnavailable:
                time.sleep(self.backoff_s * 2 ** attempt)
        try:
            answer = self._call_once(method, **kwargs)
        except StoreUnavailable:
            self._down_until = time.monotonic() + DOWN_S
            raise
        self._down_until = 0.0
        return answer

    def _call_once(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except _TRANSPORT_ERRORS as exc:
            raise StoreUnavailable(f"Elasticsearch at {self.url} unreachable: {exc}") from exc
        except elasticsearch.NotFoundError:
            raise
        except elasticsearch.BadRequestError as exc:
            if exc.error == "resource_already_exists_exception":
                raise
            raise QueryError(f"Elasticsearch refused the request: {_reason(exc)}") from exc
        except elasticsearch.ApiError as exc:
            error = StoreUnavailable if exc.meta.status in RETRY_STATUSES else StoreError
            raise error(f"Elasticsearch: {_reason(exc)}") from exc


def _reason(exc: elasticsearch.ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    cause = info.get("error", {})
    return cause.get("reason", str(exc)) if isinstance(cause, dict) else str(exc)


# --- queries -------------------------------------------------------------------------------------

def _filtered(query: str, when: TimeRange | None) -> dict[str, Any]:
    clauses = [to_dsl(parse_query(query))]
    bounds: dict[str, str] = {}
    if when is not None and when.start:
        bounds["gte"] = iso_timestamp(_time(when.start))
    if when is not None and when.end:
        bounds["lt"] = iso_timestamp(_time(when.end))
    if bounds:
        clauses.append({"range": {"@timestamp": bounds}})
    return {"bool": {"filter": clauses}}


def _time(text: str) -> int:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise QueryError(f"'{text}' is not an ISO 8601 time") from exc


def to_dsl(node: Node | None) -> dict[str, Any]:
    """The query DSL of a parsed query; ``None`` (the empty query) matches all.

    >>> to_dsl(parse_query("modbus.function_code:3 AND NOT source.ip:10.0.0.0/8"))
    {'bool': {'filter': [{'term': {'modbus.function_code': 3}}, \
{'bool': {'must_not': [{'term': {'source.ip': '10.0.0.0/8'}}]}}]}}
    """
    if node is None or isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, And):
        return {"bool": {"filter": [to_dsl(item) for item in node.items]}}
    if isinstance(node, Or):
        return {"bool": {"should": [to_dsl(item) for item in node.items],
                         "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [to_dsl(node.item)]}}
    if isinstance(node, Text):
        return {"wildcard": {ALL_TEXT: {"value": f"*{node.pattern}*", "case_insensitive": True}}}
    if isinstance(node, Term):
        return {"term": {node.field: _json_value(node.value)}}
    if isinstance(node, Range):
        return {"range": {node.field: _bounds(node)}}
    if isinstance(node, Wildcard):
        name = node.field if field_spec(node.field).type == "keyword" \
            else f"{node.field}.{TEXT_SUBFIELD}"
        return {"wildcard": {name: {"value": node.pattern}}}
    if isinstance(node, Exists):
        return {"exists": {"field": node.field}}
    assert isinstance(node, Cidr)
    return {"term": {node.field: str(node.network)}}


def _bounds(node: Range) -> dict[str, Any]:
    date = field_spec(node.field).type == "date"
    bounds = {}
    for value, name in ((node.low, "gte" if node.include_low else "gt"),
                        (node.high, "lte" if node.include_high else "lt")):
        if value is not None:
            bounds[name] = iso_timestamp(int(value)) if date else _json_value(value)
    return bounds


def _json_value(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) else str(value)


def _term_key(spec: FieldSpec, bucket: dict[str, Any]) -> Any:
    if spec.type == "boolean":
        return bool(bucket["key"])
    if spec.type in {"integer", "long", "unsigned_long"}:
        return int(bucket["key"])
    return bucket["key"]


def _encode_cursor(sort: list[Any]) -> str:
    raw = json.dumps(sort, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        sort = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (TypeError, ValueError) as exc:
        raise QueryError("invalid cursor") from exc
    if not (isinstance(sort, list) and len(sort) == 2 and isinstance(sort[1], str)):
        raise QueryError("invalid cursor")
    return sort
