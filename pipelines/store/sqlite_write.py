"""The write path of the SQLite store: events into rows, and WAL checkpoints off the writer.

A stored event costs SQLite a few B-tree inserts and Python the reading of its column values
and its JSON text; at tens of thousands of events a second both count. :class:`RowBuilder`
plans once, from the layout, where each column's value lives and how it is converted, so a row
is a handful of dictionary lookups and one ``orjson`` call. :class:`Checkpointer` copies the
write-ahead log into the database from a thread of its own: a commit no longer stops for a
checkpoint's page copies and ``fsync`` calls, which otherwise take a third of a write's time.

>>> from pipelines.query import SqlLayout
>>> builder = RowBuilder(SqlLayout({"event.id": "id", "@timestamp": "ts"}), ("event.id",))
>>> builder.row({"@timestamp": "1970-01-01T00:00:01Z", "event": {"id": "e1"}})
['e1', 1000000, '{"@timestamp":"1970-01-01T00:00:01Z","event":{"id":"e1"}}']
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import orjson

from liaowang.events import parse_timestamp
from pipelines.query import SqlLayout, field_spec, ip_key
from pipelines.store.base import Event, StoreError
from pipelines.store.incidents import split_incidents

Row = list[Any]

_ip_key = functools.lru_cache(maxsize=1 << 16)(ip_key)
"""Addresses repeat from event to event: a cached key costs a tenth of a computed one."""


def _address(value: object) -> bytearray | None:
    """The key as a ``bytearray``: ``sqlite3`` binds one as it is, while for ``bytes`` it first
    looks for an adapter, through two failed attribute lookups that cost more than the copy."""
    key = _ip_key(value) if type(value) is str else ip_key(value)
    return None if key is None else bytearray(key)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {"date": parse_timestamp, "ip": _address}


class RowBuilder:
    """Rows for an ``INSERT`` of the layout's columns, in their order, then the document.

    A value is read from the nested event (``event`` → ``id``), then from a flat dotted key
    (``"event.id"``) when the nested one is missing. Dates become integer microseconds and
    addresses :func:`~pipelines.query.ip_key`, as the query translation compares them; the
    ``required`` fields must be strings, or the batch is refused with a :class:`StoreError`."""

    def __init__(self, layout: SqlLayout, required: Sequence[str]) -> None:
        fields = list(layout.columns)
        self._paths = tuple(_path(name) for name in fields)
        self._required = tuple((fields.index(name), name) for name in required)
        self._converted = tuple((fields.index(name), _CONVERTERS[field_spec(name).type])
                                for name in fields if field_spec(name).type in _CONVERTERS)

    def split(self, documents: Sequence[Event]) -> tuple[list[Row], list[Event], list[Event]]:
        """``(rows, the events and alerts they hold, incidents)`` of a batch, each in order."""
        events, incidents = split_incidents(documents)
        return [self.row(event) for event in events], events, incidents

    def row(self, event: Event) -> Row:
        """The row of one event."""
        return self._finish(event, self._values(event))

    def _values(self, event: Event) -> list[Any]:
        get = event.get
        values: list[Any] = []
        append = values.append
        for dotted, top, leaf in self._paths:
            node = get(top)
            if leaf is None:
                append(node)
                continue
            value = node.get(leaf) if type(node) is dict else None
            append(get(dotted) if value is None else value)
        return values

    def _finish(self, event: Event, values: list[Any]) -> Row:
        for index, _ in self._required:
            if not isinstance(values[index], str):
                self._refuse(values)
        try:
            for index, convert in self._converted:
                if values[index] is not None:
                    values[index] = convert(values[index])
            values.append(orjson.dumps(event).decode())
        except (TypeError, ValueError) as exc:   # orjson.JSONEncodeError is a TypeError
            raise StoreError(f"event {values[0]!r} cannot be stored: {exc}") from exc
        return values

    def _refuse(self, values: list[Any]) -> NoReturn:
        missing = [name for index, name in self._required if not isinstance(values[index], str)]
        raise StoreError(f"cannot store an event without {', '.join(missing)} "
                         f"(event.id: {values[0]!r})")


def _path(name: str) -> tuple[str, str, str | None]:
    """``(dotted name, top-level key, key below it or None)``; columns are one or two deep."""
    top, _, leaf = name.partition(".")
    if "." in leaf:
        raise ValueError(f"a column's field is one or two names deep, not {name!r}")
    return name, top, leaf or None


class Checkpointer:
    """Checkpoints of one database's write-ahead log, run by a thread of its own.

    The store's connections turn SQLite's automatic checkpoint off and call :meth:`nudge`
    after each commit. Past ``limit_bytes`` of log the thread runs a passive checkpoint (one
    that never blocks readers or writers); should the log still reach four times the limit,
    as it can under writes without a pause, the committing thread checkpoints itself, which
    keeps the log bounded as SQLite's own automatic checkpoint does."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], database: Path,
                 limit_bytes: int) -> None:
        self._connect = connect
        self._wal = Path(f"{database}-wal")
        self._limit = limit_bytes
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def nudge(self, conn: sqlite3.Connection) -> None:
        """After a commit on ``conn``: checkpoint soon if the log has grown past the limit."""
        size = self._wal_size()
        if size >= 4 * self._limit:
            _checkpoint(conn)
        elif size >= self._limit:
            self._start()
            self._wake.set()

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None:
            thread.join()

    def _wal_size(self) -> int:
        try:
            return os.stat(self._wal).st_size
        except OSError:
            return 0

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"checkpoint {self._wal.name}")
                self._thread.start()

    def _run(self) -> None:
        with contextlib.closing(self._connect()) as conn:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                _checkpoint(conn)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """A passive checkpoint; a busy database is left for the next one."""
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
