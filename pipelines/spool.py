"""A disk spool between the sensor and a store: at-least-once delivery, bounded in size.

Events are appended to numbered segment files, one length-prefixed record per event, and each
appended batch is on disk (``fsync``) before :meth:`Spool.append` returns. A consumer reads
batches from its position and acknowledges each one only once the store has confirmed it; the
position is kept in a file, so a restart (or a crash) replays from the last acknowledged record.
A segment is deleted once every record in it is acknowledged. Since stores are idempotent on
``event.id``, replaying a batch that the store had already taken changes nothing: at-least-once
delivery plus idempotent writes is exactly once per event id.

A record is ``magic (2 bytes) | length (u32 LE) | crc32 of payload (u32 LE) | payload`` where the
payload is the event as JSON. A record torn by a crash at the end of a segment, or one whose
checksum does not match, is skipped and counted; the consumer receives a ``weird`` event in its
place instead of the spool failing.

The spool holds at most ``max_bytes`` on disk. What does not fit is counted in
:attr:`SpoolStats.dropped`, and the first refusal raises one alert (``rule.id``
``liaowang-spool-full``) that is spooled in spite of the bound, so that it reaches the store; the
alert is raised again only after the spool has drained below half of its bound.

>>> import tempfile
>>> spool = Spool(tempfile.mkdtemp(), observer="tap-1")
>>> spool.append([{"event": {"id": "a"}}, {"event": {"id": "b"}}])
2
>>> batch = spool.read(10)
>>> [e["event"]["id"] for e in batch.events], spool.pending
(['a', 'b'], 2)
>>> spool.ack(batch); spool.pending
0
>>> spool.close()
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import itertools
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from liaowang.events import event_id, iso_timestamp

__all__ = ["FULL_RULE_ID", "Batch", "Position", "Spool", "SpoolError", "SpoolStats",
           "open_spool"]

log = logging.getLogger(__name__)

Event = dict[str, Any]

MAGIC = b"\xa7W"
HEADER = struct.Struct("<2sII")
SUFFIX = ".seg"
FULL_RULE_ID = "liaowang-spool-full"


class SpoolError(Exception):
    """The spool folder cannot be used (unwritable, or in use by another process)."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where the next record is: a segment number and a byte offset in it."""

    segment: int
    offset: int


@dataclass(slots=True)
class Batch:
    """Events read from the spool; ``end`` is the position after them, ``records`` how many
    spooled records they account for (``events`` may also hold the spool's own weird events)."""

    events: list[Event]
    end: Position
    records: int


@dataclass(slots=True)
class SpoolStats:
    appended: int = 0   # events spooled
    dropped: int = 0    # events refused: the spool was full, or the disk failed
    acked: int = 0      # records acknowledged
    corrupt: int = 0    # torn or corrupted records skipped (each one a weird event)


@dataclass(slots=True)
class _Segment:
    number: int
    path: Path
    end: int        # readable bytes: committed (active segment) or whole records (sealed)
    size: int       # bytes on disk
    sealed: bool


@dataclass(slots=True)
class _Writer:
    segment: _Segment
    fd: int


@dataclass(slots=True)
class _Scan:
    end: int = 0
    records: int = 0


class Spool:
    """The spool in ``folder`` (created when missing), owned by this process until
    :meth:`close`. ``observer`` names the sensor in the events the spool makes itself."""

    def __init__(self, folder: str | Path, *, max_bytes: int = 1 << 30,
                 segment_bytes: int = 64 << 20, observer: str = "liaowang") -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        # Several segments fit in the bound, so acknowledged ones can be deleted to make room.
        self.segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self.observer = observer
        self.stats = SpoolStats()
        self._lock = threading.Lock()
        self._lock_file = _lock_folder(self.folder)
        self._id = _spool_id(self.folder)
        self._acked = _load_position(self.folder)
        self._segments: dict[int, _Segment] = {}
        self._pending = 0
        self._recover()
        self._cursor = self._acked
        self._next_number = max([self._acked.segment, *(n + 1 for n in self._segments)])
        self._writer: _Writer | None = None
        self._alerted = False

    def __repr__(self) -> str:
        return f"Spool({str(self.folder)!r})"

    # --- state ----------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records spooled and not yet acknowledged."""
        with self._lock:
            return self._pending

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return self._used()

    def _used(self) -> int:
        return sum(segment.size for segment in self._segments.values())

    # --- producer -------------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> int:
        """Spool as many of ``events`` as fit, in order; returns how many were spooled."""
        records = [_record(orjson.dumps(event)) for event in events]
        with self._lock:
            room = self.max_bytes - self._used()
            fitting = bisect.bisect_right(list(itertools.accumulate(map(len, records))), room)
            written = self._write(records[:fitting])
            if written < len(records):
                self._refuse(len(records) - written)
        return written

    def _write(self, records: list[bytes]) -> int:
        if not records:
            return 0
        writer = self._writer or self._open_segment()
        segment = writer.segment
        try:
            _write_all(writer.fd, b"".join(records))
            os.fsync(writer.fd)
        except OSError as exc:
            log.error("spool %s: cannot write %d events: %s", self.folder, len(records), exc)
            with contextlib.suppress(OSError):
                os.ftruncate(writer.fd, segment.size)
            return 0
        segment.size = segment.end = os.lseek(writer.fd, 0, os.SEEK_CUR)
        self._pending += len(records)
        self.stats.appended += len(records)
        if segment.size >= self.segment_bytes:
            self._seal()
        return len(records)

    def _open_segment(self) -> _Writer:
        number, self._next_number = self._next_number, self._next_number + 1
        path = self.folder / f"{number:016d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_folder(self.folder)
        self._segments[number] = _Segment(number, path, 0, 0, sealed=False)
        self._writer = _Writer(self._segments[number], fd)
        return self._writer

    def _seal(self) -> None:
        if self._writer is not None:
            os.close(self._writer.fd)
            self._writer.segment.sealed = True
            self._writer = None

    def _refuse(self, count: int) -> None:
        self.stats.dropped += count
        if self._alerted:
            return
        self._alerted = True
        log.warning("spool %s is full (%d bytes): events are being dropped", self.folder,
                    self.max_bytes)
        self._write([_record(orjson.dumps(self._full_alert()))])

    # --- consumer -------------------------------------------------------------------------------

    def read(self, max_events: int) -> Batch | None:
        """The next batch after the last one read (None when there is nothing new)."""
        events: list[Event] = []
        cursor, records = self._cursor, 0
        while len(events) < max_events:
            segment = self._snapshot(cursor.segment)
            if segment is None:
                break
            offset, count = self._read_records(segment, cursor.offset,
                                               max_events - len(events), events)
            cursor, records = Position(segment.number, offset), records + count
            if segment.sealed and offset >= segment.end:
                self._check_tail(segment, events)
                cursor = Position(segment.number + 1, 0)
            elif offset >= segment.end:
                break
        if cursor == self._cursor:
            return None
        self._cursor = cursor
        return Batch(events, cursor, records)

    def ack(self, batch: Batch) -> None:
        """The store has taken ``batch``: remember that, and delete what is no longer needed."""
        _store_position(self.folder, batch.end)
        with self._lock:
            self._acked = batch.end
            self._pending -= batch.records
            self.stats.acked += batch.records
            for number in [n for n in self._segments if n < batch.end.segment]:
                self._delete(self._segments.pop(number))
            if self._used() <= self.max_bytes // 2:
                self._alerted = False

    def rewind(self) -> None:
        """Read again from the last acknowledged position (batches read since are forgotten)."""
        self._cursor = self._acked

    def _snapshot(self, number: int) -> _Segment | None:
        with self._lock:
            segment = self._segments.get(number)
            return None if segment is None else replace(segment)

    def _read_records(self, segment: _Segment, offset: int, limit: int,
                      events: list[Event]) -> tuple[int, int]:
        """Up to ``limit`` records of ``segment`` from ``offset`` into ``events``; returns the
        offset after them and how many records were read."""
        count = 0
        with segment.path.open("rb") as handle:
            handle.seek(offset)
            while count < limit and offset < segment.end:
                length, event = _read_record(handle)
                events.append(event if event is not None else
                              self._weird(segment, offset, "spool_corrupt_record",
                                          f"checksum or JSON of a {length}-byte record"))
                offset += HEADER.size + length
                count += 1
        return offset, count

    def _check_tail(self, segment: _Segment, events: list[Event]) -> None:
        if segment.size > segment.end:
            torn = segment.size - segment.end
            events.append(self._weird(segment, segment.end, "spool_torn_record",
                                      f"{torn} bytes after the last whole record"))

    # --- recovery -------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Find the segments left on disk; delete those before the acknowledged position."""
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            number = int(path.stem)
            if number < self._acked.segment:
                path.unlink()
                continue
            start = self._acked.offset if number == self._acked.segment else 0
            scan = _scan(path, start)
            self._segments[number] = _Segment(number, path, scan.end, path.stat().st_size,
                                              sealed=True)
            self._pending += scan.records
        if self._segments and self._acked.segment not in self._segments:
            self._acked = Position(min(self._segments), 0)

    def _delete(self, segment: _Segment) -> None:
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()

    # --- the spool's own events -----------------------------------------------------------------

    def _weird(self, segment: _Segment, offset: int, name: str, detail: str) -> Event:
        self.stats.corrupt += 1
        log.warning("spool %s: segment %d offset %d: %s skipped", self.folder,
                    segment.number, offset, detail)
        return {
            "@timestamp": _now(),
            "event": {"id": event_id(self._id, name, segment.number, offset), "kind": "event",
                      "dataset": "weird"},
            "observer": {"name": self.observer},
            "weird": {"name": name, "analyzer": "spool",
                      "detail": f"{segment.path.name} offset {offset}: {detail}"},
        }

    def _full_alert(self) -> Event:
        now = _now()
        return {
            "@timestamp": now,
            "event": {"id": event_id(self._id, FULL_RULE_ID, now), "kind": "alert",
                      "dataset": "weird", "severity": 3, "risk_score": 70.0,
                      "reason": f"the spool holds its bound of {self.max_bytes} bytes; "
                                "new events are dropped until the store takes some"},
            "observer": {"name": self.observer},
            "rule": {"id": FULL_RULE_ID, "name": "Spool full: events are being dropped",
                     "ruleset": "liaowang"},
            "weird": {"name": "spool_full", "analyzer": "spool",
                      "detail": str(self.folder)},
        }

    # --- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the open segment and let another process use the folder."""
        with self._lock:
            self._seal()
            self._delete_if_acked(self._segments.get(self._acked.segment))
        self._lock_file.close()

    def _delete_if_acked(self, segment: _Segment | None) -> None:
        """Delete a sealed segment whose every record is acknowledged."""
        if segment is not None and segment.sealed and self._acked.offset >= segment.size:
            self._acked = Position(segment.number + 1, 0)
            _store_position(self.folder, self._acked)
            self._delete(self._segments.pop(segment.number))

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pending_on_disk(folder: str | Path) -> int:
    """Records not yet acknowledged in every spool lane under ``folder`` (or in the spool
    ``folder`` itself), read from the files without taking a lane: another process may be
    delivering from it. A count, so a record being written may be missed.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open_spool(folder) as spool:
    ...     _ = spool.append([{"event": {"id": "a"}}])
    ...     pending_on_disk(folder)
    1
    """
    root = Path(folder)
    lanes = [root, *sorted(path for path in root.glob("*") if path.is_dir())]
    return sum(_pending_in(lane) for lane in lanes if (lane / "spool.id").exists())


def _pending_in(folder: Path) -> int:
    acked = _load_position(folder)
    pending = 0
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        number = int(path.stem)
        if number >= acked.segment:
            with contextlib.suppress(FileNotFoundError):
                pending += _scan(path, acked.offset if number == acked.segment else 0).records
    return pending


def open_spool(folder: str | Path, lanes: int = 8, **options: Any) -> Spool:
    """The first spool under ``folder`` (``folder/0``, ``folder/1``, ...) that no other process
    holds, so that processes writing to the same store each get one; a restart takes back the
    lowest free lane and delivers what was left in it."""
    problem: SpoolError | None = None
    for lane in range(lanes):
        try:
            return Spool(Path(folder) / str(lane), **options)
        except SpoolError as exc:
            problem = exc
    raise SpoolError(f"every spool lane under {folder} is in use: {problem}")


# --- records ------------------------------------------------------------------------------------

def _record(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _read_record(handle: BinaryIO) -> tuple[int, Event | None]:
    """One record known to be whole (its framing was checked): its length and its event, or
    None when its checksum or JSON is wrong."""
    _, length, crc = HEADER.unpack(handle.read(HEADER.size))
    payload = handle.read(length)
    if zlib.crc32(payload) != crc:
        return length, None
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return length, None
    return length, event if isinstance(event, dict) else None


def _scan(path: Path, start: int) -> _Scan:
    """Count whole records from ``start``; ``end`` is where the last whole one ends."""
    scan = _Scan(end=start)
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(start)
        for length in _lengths(handle):
            if scan.end + HEADER.size + length > size:
                break
            scan.end += HEADER.size + length
            scan.records += 1
            handle.seek(scan.end)
    return scan


def _lengths(handle: BinaryIO) -> Iterator[int]:
    while len(header := handle.read(HEADER.size)) == HEADER.size:
        magic, length, _ = HEADER.unpack(header)
        if magic != MAGIC:
            return
        yield length


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --- the folder ---------------------------------------------------------------------------------

def _lock_folder(folder: Path) -> BinaryIO:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / "lock").open("ab")
    except OSError as exc:
        raise SpoolError(f"cannot use the spool folder {folder}: {exc}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise SpoolError(f"the spool folder {folder} is in use by another process") from exc
    return handle


def _spool_id(folder: Path) -> str:
    """A random name of this spool, kept in the folder: the ids of its own events use it."""
    path = folder / "spool.id"
    if not path.exists():
        _replace(path, uuid.uuid4().hex.encode())
    return path.read_text().strip()


def _load_position(folder: Path) -> Position:
    try:
        data = orjson.loads((folder / "position").read_bytes())
        return Position(int(data["segment"]), int(data["offset"]))
    except FileNotFoundError:
        return Position(0, 0)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        # Replaying from the start only repeats events the store already holds.
        log.warning("spool %s: unreadable position; delivering from the oldest segment", folder)
        return Position(0, 0)


def _store_position(folder: Path, position: Position) -> None:
    _replace(folder / "position",
             orjson.dumps({"segment": position.segment, "offset": position.offset}))


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` atomically and durably: a crash leaves the old content or the new."""
    scratch = path.with_suffix(".tmp")
    with scratch.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return iso_timestamp(time.time_ns() // 1000)

