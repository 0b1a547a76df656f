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
from pipelines.store.base import (
    Bucket,
    Event,
    QueryError,
    SearchResult,
    Store,
    StoreError,
    StoreUnavailable,
    TimeRange,
    merge_patch,
)

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
CREATE INDEX IF NOT EXISTS events_source_ip ON events (source_ip);
CREATE INDEX IF NOT EXISTS events_destination_ip ON events (destination_ip);
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
        rows = [_row(event) for event in events]
        if rows:
            with self._transaction("IMMEDIATE") as conn:
                conn.executemany(_UPSERT, rows)
        return len(rows)

    def search(self, query: str = "", when: TimeRange | None = None, size: int = 100,
               cursor: str | None = None) -> SearchResult:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        where = _where(query, when)
        page = _conjunction([where, _after(cursor)]) if cursor else where
        with self._transaction("DEFERRED") as conn:
            count = conn.execute(f"SELECT count(*) FROM events WHERE {where.text}",
                                 where.params).fetchone()[0]
            rows = conn.execute(f"SELECT ts, id, doc FROM events WHERE {page.text} "
                                "ORDER BY ts DESC, id DESC LIMIT ?",
                                [*page.params, size + 1]).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        next_cursor = _encode_cursor(rows[-1][0], rows[-1][1]) if more else None
        return SearchResult([json.loads(doc) for _, _, doc in rows], count, next_cursor)

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
            self._connection().execute("PRAGMA journal_mode = WAL")
        with self._transaction("IMMEDIATE") as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(f"{self.path} has schema version {version}, "
                                 f"this Liaowang knows {SCHEMA_VERSION}")
            _create_tables(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _SCHEMA.split(";")):
        conn.execute(statement)


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """Translate ``sqlite3`` errors: busy or unopenable → StoreUnavailable, else StoreError."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        error = StoreUnavailable if code in _UNAVAILABLE else StoreError
        raise error(f"SQLite: {exc}") from exc


def _row(event: Event) -> tuple[Any, ...]:
    """The column values of an event, in the order of ``_NAMES``."""
    values = {name: get_field(event, name) for name in LAYOUT.columns}
    missing = [name for name in _REQUIRED if not isinstance(values[name], str)]
    if missing:
        raise StoreError(f"cannot store an event without {', '.join(missing)} "
                         f"(event.id: {values['event.id']!r})")
    try:
        values["@timestamp"] = parse_timestamp(values["@timestamp"])
        doc = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
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
