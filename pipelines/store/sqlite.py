"""The embedded store: one SQLite file in WAL mode, on the standard library's ``sqlite3``.

One table holds every event as JSON text, beside a few columns copied out of it for speed (time,
kind, dataset, observer, addresses, Community ID, rule id) with indices. Queries are translated by
:mod:`pipelines.query`, with parameters only. Counts per hour and key and the protocol fields
hunted most are kept beside the events, in step with them (:mod:`.sqlite_derived`), so counts,
dashboards and those hunts do not read every event. Each thread gets its own connection, so the
console's threads read while the sensor writes; a write takes the write lock at once
(``BEGIN IMMEDIATE``) and waits up to ``timeout_s`` for another writer. ``sqlite3`` errors
become :class:`~pipelines.store.base.StoreError`.

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
    between,
    field_spec,
    field_sql,
    joined,
    parse_query,
    to_sql,
)
from pipelines.store import (
    sqlite_assets,
    sqlite_counts,
    sqlite_derived,
    sqlite_fields,
    sqlite_incidents,
    sqlite_indexes,
    sqlite_write,
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
from pipelines.store.incidents import IncidentFilter

SCHEMA_VERSION = 2

LAYOUT = SqlLayout({
    "event.id": "id", "@timestamp": "ts", "event.kind": "kind", "event.dataset": "dataset",
    "observer.name": "observer", "source.ip": "source_ip", "destination.ip": "destination_ip",
    "network.community_id": "community_id", "rule.id": "rule_id", "network.protocol": "protocol",
})
"""Fields copied into columns; ``ts`` is integer microseconds, addresses are :func:`ip_key`."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, dataset TEXT NOT NULL,
    observer TEXT, source_ip BLOB, destination_ip BLOB, community_id TEXT, rule_id TEXT,
    protocol TEXT, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts, id);
CREATE INDEX IF NOT EXISTS events_dataset ON events (dataset, ts);
DROP INDEX IF EXISTS events_kind;
DROP INDEX IF EXISTS events_source_ip;
DROP INDEX IF EXISTS events_destination_ip;
CREATE INDEX IF NOT EXISTS events_source_ip_ts ON events (source_ip, ts);
CREATE INDEX IF NOT EXISTS events_destination_ip_ts ON events (destination_ip, ts);
CREATE INDEX IF NOT EXISTS events_community_id ON events (community_id);
CREATE INDEX IF NOT EXISTS events_rule_id ON events (rule_id) WHERE rule_id IS NOT NULL;
"""

_NAMES = (*LAYOUT.columns.values(), LAYOUT.document)
_INSERT = f"INSERT INTO events ({', '.join(_NAMES)}) VALUES ({', '.join('?' * len(_NAMES))})"
_INSERT_NEW = f"{_INSERT} ON CONFLICT (id) DO NOTHING"
_UPSERT = (f"{_INSERT} ON CONFLICT (id) DO UPDATE SET "
           f"{', '.join(f'{n} = excluded.{n}' for n in _NAMES[1:])}")
_REQUIRED = ("event.id", "@timestamp", "event.kind", "event.dataset")
_UNAVAILABLE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN}
_CHECKPOINT_BYTES = 1000 * 16384   # SQLite's own threshold: 1,000 pages (of a new file)


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
        self._checkpointer = sqlite_write.Checkpointer(self._connect, self.path,
                                                       _CHECKPOINT_BYTES)
        self._create_schema()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # --- the contract ---------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> int:
        rows, events, incidents = _ROWS.split(events)
        if rows or incidents:
            with self._transaction("IMMEDIATE") as conn:
                _write_events(conn, *_last_of_each_id(rows, events))
                sqlite_incidents.write(conn, incidents)
        return len(rows) + len(incidents)

    def search(self, query: str = "", when: TimeRange | None = None, size: int = 100,
               cursor: str | None = None) -> SearchResult:
        if size < 1:
            raise QueryError(f"size must be at least 1, not {size}")
        with self._transaction("DEFERRED") as conn:
            where = _where(query, when, conn)
            page = joined("AND", [where, _after(cursor)]) if cursor else where
            count = _count(conn, query, when, where)
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
        where = self._where(query, when)
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
        counted = _counted_terms(field, query, when, column)
        where = joined("AND", [self._where(query, when), Sql(f"{column} IS NOT NULL", [])])
        rows = self._fetch(*_with_limit(counted, size)) if counted else self._fetch(
            f"SELECT {column} AS term, count(*) AS n FROM events "
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
            replaced = sqlite_derived.replaced(conn, [event_id])
            new_row = _ROWS.row(alert)
            conn.execute(_UPSERT, new_row)
            sqlite_derived.keep(conn, _written([alert], [new_row]), replaced)
        return alert

    def drop_before(self, day: str) -> int:
        cutoff = day_start_us(day)
        with self._transaction("IMMEDIATE") as conn:
            sqlite_derived.drop_before(conn, cutoff)
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
        self._checkpointer.close()
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
        conn.execute("PRAGMA wal_autocheckpoint = 0")   # sqlite_write.Checkpointer does them
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
            if mode == "IMMEDIATE":
                self._checkpointer.nudge(conn)

    def _where(self, query: str, when: TimeRange | None) -> Sql:
        with _sqlite_errors():
            return _where(query, when, self._connection())

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
            if version not in _UPGRADABLE:
                raise StoreError(f"{self.path} has schema version {version}, "
                                 f"this Liaowang knows {SCHEMA_VERSION}")
            _add_missing_columns(conn)
            _create_tables(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


_UPGRADABLE = (0, 1, SCHEMA_VERSION)
"""Versions opened: 0 is a new file, 1 read the protocol from each document (see below)."""


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Give a store of an earlier version the columns it lacks, filled from the documents.
    Version 2 copies ``network.protocol`` into a column: its index no longer parses every
    document written (6 k instructions per event, out of 147 k)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if present and "protocol" not in present:
        conn.execute("ALTER TABLE events ADD COLUMN protocol TEXT")
        conn.execute(f"UPDATE events SET protocol = "
                     f"{field_sql(SqlLayout({}), 'network.protocol', raw=True)}")


def _write_events(conn: sqlite3.Connection, rows: list[list[Any]], events: list[Event]) -> None:
    """Insert the rows, one per id; ids stored before are replaced, with their derived rows.

    New ids are the rule (a spool redelivers a batch only after a crash), so rows are inserted
    as new and only the ids that were there already, those the insert left alone, are looked up
    and replaced: one lookup per event less than asking first."""
    stored_up_to = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
    changes = conn.total_changes
    conn.executemany(_INSERT_NEW, rows)
    replaced: list[sqlite_derived.Stored] = []
    if conn.total_changes - changes < len(rows):
        replaced = sqlite_derived.replaced(conn, [row[0] for row in rows], stored_up_to)
        again = {item[1] for item in replaced}
        conn.executemany(_UPSERT, [row for row in rows if row[0] in again])
    sqlite_derived.keep(conn, _written(events, rows), replaced)


def _last_of_each_id(rows: list[list[Any]], events: list[Event]
                     ) -> tuple[list[list[Any]], list[Event]]:
    """An id written twice in one batch is stored once, as its last version."""
    last = {row[0]: index for index, row in enumerate(rows)}
    if len(last) == len(rows):
        return rows, events
    kept = sorted(last.values())
    return [rows[i] for i in kept], [events[i] for i in kept]


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
    sqlite_derived.create(conn)


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """Translate ``sqlite3`` errors: busy or unopenable → StoreUnavailable, else StoreError."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        error = StoreUnavailable if code in _UNAVAILABLE else StoreError
        raise error(f"SQLite: {exc}") from exc


_ROWS = sqlite_write.RowBuilder(LAYOUT, _REQUIRED)


def _written(events: Sequence[Event], rows: Sequence[Sequence[Any]]
             ) -> list[sqlite_derived.Stored]:
    """(ts, id, kind, dataset, event) of each event written, for the derived tables."""
    return [(row[1], row[0], row[2], row[3], event)
            for event, row in zip(events, rows, strict=True)]


def _count(conn: sqlite3.Connection, query: str, when: TimeRange | None, where: Sql) -> int:
    """The number of matches: from the kept counts when they can say (see sqlite_counts)."""
    node, split = parse_query(query), _split(when)
    kept = sqlite_fields.count_sql(node, *_bounds(when))
    if kept is not None:
        return int(conn.execute(kept.text, kept.params).fetchone()[0])
    if split is not None and sqlite_counts.answers(node):
        sql = sqlite_counts.count_sql(node, split, to_sql(node, LAYOUT))
        return int(conn.execute(f"SELECT {sql.text}", sql.params).fetchone()[0])
    return int(conn.execute(f"SELECT count(*) FROM events WHERE {where.text}",
                            where.params).fetchone()[0])


def _counted_terms(field: str, query: str, when: TimeRange | None, column: str) -> Sql | None:
    node, split = parse_query(query), _split(when)
    if split is None or not sqlite_counts.answers(node, field):
        return None
    return sqlite_counts.terms_sql(field, node, split, column, to_sql(node, LAYOUT))


def _with_limit(sql: Sql, size: int) -> tuple[str, list[Any]]:
    return sql.text, [*sql.params, size]


def _split(when: TimeRange | None) -> sqlite_counts.Split | None:
    """The time range in whole hours and edges, for the kept counts."""
    return sqlite_counts.split(*_bounds(when))


def _bounds(when: TimeRange | None) -> tuple[int | None, int | None]:
    """The time range in microseconds; None for an open end."""
    start = _time(when.start) if when is not None and when.start else None
    end = _time(when.end) if when is not None and when.end else None
    return start, end


def _where(query: str, when: TimeRange | None, conn: sqlite3.Connection | None = None) -> Sql:
    """The query and the time range. With a connection, hunted protocol fields are asked in
    their side table (see sqlite_fields); without, every field is read from the row."""
    start, end = _bounds(when)
    lookups = sqlite_fields.lookups(conn, start, end) if conn is not None else {}
    layout = SqlLayout(LAYOUT.columns, LAYOUT.document, lookups)
    return joined("AND", [to_sql(parse_query(query), layout), between("ts", start, end)])


def _time(text: str) -> int:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise QueryError(f"'{text}' is not an ISO 8601 time") from exc


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
