"""The embedded store: one SQLite file in WAL mode, on the standard library's ``sqlite3``.

One table holds every event as JSON text, beside a few columns copied out of it for speed (time,
kind, dataset, observer, addresses, Community ID, rule id) with indices. Queries are translated by
:mod:`pipelines.query`, with parameters only. Each thread gets its own connection, so the console's
threads read while the sensor writes; a write takes the write lock at once (``BEGIN IMMEDIATE``)
and waits up to ``timeout_s`` for another writer. ``sqlite3`` errors become
:class:`~pipelines.store.base.StoreError`.

>>> import tempfile
>>> event = {"@timestamp": "2015-10-22T10:00:00.000000Z", "observer": {"name": "tap1"},
...          "event": {"id": "e1", "kind": "event", "dataset": "modbus"}}
>>> with SQLiteStore(f"{tempfile.mkdtemp()}/events.db") as store:
...     store.write([event]), store.search("event.dataset:modbus").count
(1, 1)
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from liaowang.events import get_field, iso_timestamp, parse_timestamp
from pipelines.query import (
    SQL_FUNCTIONS,
    Sql,
    SqlLayout,
    field_spec,
    field_sql,
    ip_key,
    parse_query,
    to_sql,
)
from pipelines.store import sqlite_assets, sqlite_incidents, sqlite_indexes
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
from pipelines.store.incidents import IncidentFilter, split_incidents

SCHEMA_VERSION = 1

LAYOUT = SqlLayout({
    "event.id": "id", "@timestamp": "ts", "event.kind": "kind", "event.dataset": "dataset",
    "observer.name": "observer", "source.ip": "source_ip", "destination.ip": "destination_ip",
    "network.community_id": "community_id", "rule.id": "rule_id",
})
"""Fields copied into columns; ``ts`` is integer microseconds, addresses are :func:`ip_key`."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, dataset TEXT NOT NULL,
    observer TEXT, source_ip BLOB, destination_ip BLOB, community_id TEXT, rule_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts, id);
CREATE INDEX IF NOT EXISTS events_dataset ON events (dataset, ts);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, ts);
DROP INDEX IF EXISTS events_source_ip;
DROP INDEX IF EXISTS events_destination_ip;
CREATE INDEX IF NOT EXISTS events_source_ip_ts ON events (source_ip, ts);
CREATE INDEX IF NOT EXISTS events_destination_ip_ts ON events (destination_ip, ts);
CREATE INDEX IF NOT EXISTS events_community_id ON events (community_id);
CREATE INDEX IF NOT EXISTS events_rule_id ON events (rule_id) WHERE rule_id IS NOT NULL;
"""

_NAMES = (*LAYOUT.columns.values(), LAYOUT.document)
_UPSERT = (
    f"INSERT INTO events ({', '.join(_NAMES)}) VALUES ({', '.join('?' * len(_NAMES))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in _NAMES[1:])}"
)
_REQUIRED = ("event.id", "@timestamp", "event.kind", "event.dataset")
_UNAVAILABLE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN}


class SQLiteStore(Store):
    """Events in the SQLite file at ``path`` (its folder is created when missing)."""

    def __init__(self, path: str | Path, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {self.path}: {exc}") from exc
        self._create_schema()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # --- the contract ---------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> int:
        events, incidents = split_incidents(events)
        rows = [_row(event) for event in events]
        if rows or incidents:
            with self._transaction("IMMEDIATE") as conn:
                conn.executemany(_UPSERT, rows)
                sqlite_incidents.write(conn, incidents)
        return len(rows) + len(incidents)

    def search(self, query: str = "", when: TimeRange | None = None, size: int = 100,
               cursor: str | None = None) -> SearchResult:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        where = _where(query, when)
        page = _conjunction([where, _after(cursor)]) if cursor else where
        with self._transaction("DEFERRED") as conn:
            count = conn.execute(f"SELECT count(*) FROM events WHERE {where.text}",
                                 where.params).fetchone()[0]
            rows = conn.execute(f"SELECT ts, id FROM events WHERE {page.text} "
                                "ORDER BY ts DESC, id DESC LIMIT ?",
                                [*page.params, size + 1]).fetchall()
            more = len(rows) > size
            rows = rows[:size]
            docs = _documents(conn, [event_id for _, event_id in rows])
        next_cursor = _encode_cursor(rows[-1][0], rows[-1][1]) if more else None
        return SearchResult([json.loads(docs[event_id]) for _, event_id in rows], count,
                            next_cursor)

    def get(self, event_id: str) -> Event | None:
        rows = self._fetch("SELECT doc FROM events WHERE id = ?", [event_id])
        return json.loads(rows[0][0]) if rows else None

    def histogram(self, query: str = "", when: TimeRange | None = None,
                  interval_s: int = 60) -> list[Bucket]:
        if interval_s < 1:
            raise QueryError(f"interval must be at least 1 s, not {interval_s}")
        where = _where(query, when)
        width = int(interval_s) * 1_000_000
        rows = self._fetch("SELECT ts - (ts % ? + ?) % ? AS bucket, count(*) FROM events "
                           f"WHERE {where.text} GROUP BY bucket ORDER BY bucket",
                           [width, width, width, *where.params])
        return [Bucket(iso_timestamp(start), count) for start, count in rows]

    def terms(self, field: str, query: str = "", when: TimeRange | None = None,
              size: int = 10) -> list[Bucket]:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        column = field_sql(LAYOUT, field, raw=True)
        where = _conjunction([_where(query, when), Sql(f"{column} IS NOT NULL", [])])
        rows = self._fetch(f"SELECT {column} AS term, count(*) AS n FROM events "
                           f"WHERE {where.text} GROUP BY term ORDER BY n DESC, term LIMIT ?",
                           [*where.params, size])
        boolean = field_spec(field).type == "boolean"
        return [Bucket(bool(key) if boolean else key, count) for key, count in rows]

    def update_alert(self, event_id: str, changes: dict[str, Any]) -> Event | None:
        with self._transaction("IMMEDIATE") as conn:
            row = conn.execute("SELECT doc FROM events WHERE id = ? AND kind = ?",
                               [event_id, "alert"]).fetchone()
            if row is None:
                return None
            alert: Event = merge_patch(json.loads(row[0]), changes)
            identity = get_field(alert, "event.id"), get_field(alert, "event.kind")
            if identity != (event_id, "alert"):
                raise StoreError("an update cannot change event.id or event.kind")
            conn.execute(_UPSERT, _row(alert))
        return alert

    def drop_before(self, day: str) -> int:
        cutoff = day_start_us(day)
        with self._transaction("IMMEDIATE") as conn:
            return conn.execute("DELETE FROM events WHERE kind = ? AND ts < ?",
                                ["event", cutoff]).rowcount

    def write_incidents(self, incidents: Sequence[Event]) -> int:
        with self._transaction("IMMEDIATE") as conn:
            return sqlite_incidents.write(conn, incidents)

    def search_incidents(self, filters: IncidentFilter | None = None, size: int = 100,
                         cursor: str | None = None) -> SearchResult:
        with self._transaction("DEFERRED") as conn:
            return sqlite_incidents.search(conn, filters or IncidentFilter(), size, cursor)

    def get_incident(self, incident_id: str) -> Event | None:
        with self._transaction("DEFERRED") as conn:
            return sqlite_incidents.get(conn, incident_id)

    def update_incident(self, incident_id: str, changes: dict[str, Any]) -> Event | None:
        with self._transaction("IMMEDIATE") as conn:
            return sqlite_incidents.update(conn, incident_id, changes)

    # --- the asset inventory (see pipelines.store.sqlite_assets) --------------------------------

    def upsert_assets(self, assets: Sequence[Asset]) -> int:
        with self._transaction("IMMEDIATE") as conn:
            return sqlite_assets.upsert(conn, assets)

    def search_assets(self, filters: AssetFilter | None = None, size: int = 100,
                      offset: int = 0) -> SearchResult:
        with self._transaction("DEFERRED") as conn:
            return sqlite_assets.search(conn, filters or AssetFilter(), size, offset)

    def get_asset(self, ip: str) -> Asset | None:
        with self._transaction("DEFERRED") as conn:
            return sqlite_assets.get(conn, ip)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()

    # --- connections and transactions -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            self._register(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        """A connection for the calling thread; not shared, but closable from :meth:`close`."""
        conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")   # 64 MiB: the indices of big batches fit
        for name, function in SQL_FUNCTIONS.items():
            conn.create_function(name, 1, function, deterministic=True)
        return conn

    def _register(self, conn: sqlite3.Connection) -> None:
        """Remember a new connection, and close those of threads that have ended."""
        with self._lock:
            for thread in [t for t in self._connections if not t.is_alive()]:
                self._connections.pop(thread).close()
            self._connections[threading.current_thread()] = conn

    @contextlib.contextmanager
    def _transaction(self, mode: str) -> Iterator[sqlite3.Connection]:
        with _sqlite_errors():
            conn = self._connection()
            conn.execute(f"BEGIN {mode}")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with _sqlite_errors():
            return self._connection().execute(sql, params).fetchall()

    def _create_schema(self) -> None:
        with _sqlite_errors():
            # 16 KiB pages for a new file (no effect on an existing one): events are ~1 KiB of
            # JSON with eight indices, and bigger pages cut the B-tree work of a write by a third.
            self._connection().execute("PRAGMA page_size = 16384")
            self._connection().execute("PRAGMA journal_mode = WAL")
        with self._transaction("IMMEDIATE") as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(f"{self.path} has schema version {version}, "
                                 f"this Liaowang knows {SCHEMA_VERSION}")
            _create_tables(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _documents(conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    """The documents of a page, read after the page is chosen: sorting (time, id) pairs
    instead of whole documents keeps a search cheap when many rows match."""
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    return dict(conn.execute(f"SELECT id, doc FROM events WHERE id IN ({marks})", ids))


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _SCHEMA.split(";")):
        conn.execute(statement)
    sqlite_incidents.create_table(conn)
    sqlite_assets.create_table(conn)
    sqlite_indexes.create(conn, LAYOUT)


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """Translate ``sqlite3`` errors: busy or unopenable → StoreUnavailable, else StoreError."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        error = StoreUnavailable if code in _UNAVAILABLE else StoreError
        raise error(f"SQLite: {exc}") from exc


_PATHS = tuple((name, tuple(name.split("."))) for name in LAYOUT.columns)


def _column_value(event: Event, name: str, path: tuple[str, ...]) -> Any:
    """``get_field`` for the columns, on the hot path of every write."""
    node: Any = event.get(name)
    if node is not None or len(path) == 1:
        return node
    node = event
    for part in path:
        if type(node) is not dict:
            return None
        node = node.get(part)
    return node


def _row(event: Event) -> tuple[Any, ...]:
    """The column values of an event, in the order of ``_NAMES``.

    The document is serialised with orjson: the JSON is the same as the standard library's
    (compact, UTF-8), at a fraction of the cost, which is most of a write's time."""
    values = {name: _column_value(event, name, path) for name, path in _PATHS}
    missing = [name for name in _REQUIRED if not isinstance(values[name], str)]
    if missing:
        raise StoreError(f"cannot store an event without {', '.join(missing)} "
                         f"(event.id: {values['event.id']!r})")
    try:
        values["@timestamp"] = parse_timestamp(values["@timestamp"])
        doc = orjson.dumps(event).decode()
    except (TypeError, ValueError) as exc:   # orjson.JSONEncodeError is a TypeError
        raise StoreError(f"event {values['event.id']!r} cannot be stored: {exc}") from exc
    for name in ("source.ip", "destination.ip"):
        values[name] = ip_key(values[name])
    return (*values.values(), doc)


def _where(query: str, when: TimeRange | None) -> Sql:
    parts = [to_sql(parse_query(query), LAYOUT)]
    if when is not None and when.start:
        parts.append(Sql("ts >= ?", [_time(when.start)]))
    if when is not None and when.end:
        parts.append(Sql("ts < ?", [_time(when.end)]))
    return _conjunction(parts)


def _time(text: str) -> int:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise QueryError(f"'{text}' is not an ISO 8601 time") from exc


def _conjunction(parts: Sequence[Sql]) -> Sql:
    return Sql(" AND ".join(f"({p.text})" for p in parts), [v for p in parts for v in p.params])


def _after(cursor: str | None) -> Sql:
    """Rows after the cursor's (time, id) in newest-first order (keyset paging)."""
    return Sql("(ts, id) < (?, ?)", list(_decode_cursor(cursor or "")))


def _encode_cursor(ts: int, event_id: str) -> str:
    raw = json.dumps([ts, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        ts, event_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (TypeError, ValueError) as exc:
        raise QueryError("invalid cursor") from exc
    if type(ts) is not int or not isinstance(event_id, str):
        raise QueryError("invalid cursor")
    return ts, event_id
