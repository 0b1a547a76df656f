"""Where a capture's bytes come from: a regular file, read at offsets; or a stream, read from
front to back: a gzip, xz or bzip2 file through its decompressor (archives of rotated captures
are kept compressed), or standard input (``-``) or a named pipe, read once (``tcpdump -w - |``
hands a capture over a pipe).

Both give :meth:`read_at`: the bytes from an offset on. The reader of a capture asks for a
chunk at a time, and asks again from where the last record it could not finish begins, never
before the start of the last chunk; a stream keeps that chunk for it.
"""

from __future__ import annotations

import bz2
import contextlib
import fcntl
import gzip
import io
import lzma
import os
import select
import stat
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

STDIN = "-"
DECOMPRESSORS: dict[bytes, Callable[..., io.BufferedIOBase]] = {
    b"\x1f\x8b": gzip.open, b"\xfd7zXZ\x00": lzma.open, b"BZh": bz2.open}
PIPE_SIZE = 1 << 20      # the default limit of /proc/sys/fs/pipe-max-size
UNREAD_COMPRESSION = {b"\x28\xb5\x2f\xfd": "zstd", b"\x04\x22\x4d\x18": "lz4"}
# What a decompressor raises on damaged or cut input: the capture ends there.
DAMAGED_STREAM = (EOFError, zlib.error, lzma.LZMAError, OSError)


class InputError(Exception):
    """The input cannot be read as a capture at all (the reason is the message)."""


class FileInput:
    """A regular file, read at any offset."""

    once = False        # it can be opened again
    damaged = False

    def __init__(self, handle: io.FileIO) -> None:
        self._handle = handle
        self.size = os.fstat(handle.fileno()).st_size
        self.ended = False  # the last read reached the end of the file

    def read_at(self, offset: int, size: int, least: int = 1) -> bytes:
        """``size`` bytes from ``offset``, fewer only at the end (so ``least`` always)."""
        data = os.pread(self._handle.fileno(), size, offset)
        self.ended = len(data) < size
        return data

    def consumed(self, offset: int) -> int:
        """Input bytes read when the capture has been read up to ``offset``."""
        return offset

    def close(self) -> None:
        self._handle.close()


class StreamInput:
    """A stream read front to back: standard input or a pipe (``once``), or a decompressor;
    ``raw``: the file or pipe under it, closed with it, whose position (a file's) tells the
    progress through the input."""

    def __init__(self, source: io.BufferedIOBase, once: bool,
                 raw: io.RawIOBase | io.BufferedIOBase | None = None, size: int = 0) -> None:
        self._source, self._raw = source, raw
        # A pipe is read for what it holds (read1), not until a whole chunk has come; and read
        # on while it holds more, so a fast one still gives whole chunks.
        self._read_some = source.read1 if once else source.read
        self._pipe = (raw or source).fileno() if once else None
        self.once = once
        self.size = size          # bytes of input when known (a compressed file's), else 0
        self.damaged = False      # the decompressor met damaged or cut data
        self.ended = False        # the stream's end was read
        self._kept, self._kept_at = b"", 0

    def read_at(self, offset: int, size: int, least: int = 1) -> bytes:
        """Up to ``size`` bytes from ``offset``, and at least ``least`` unless the stream ends
        first: what is kept of the last chunk, then reads until ``least``. A pipe answers a
        read with what it holds, so its packets are not held back for a full chunk."""
        if offset < self._kept_at:
            raise InputError("a stream cannot be read again from an earlier offset")
        end = self._kept_at + len(self._kept)
        if offset > end:
            self._skip(offset - end)
        parts = [self._kept[offset - self._kept_at:]]
        have = len(parts[0])
        while (have < least or (have < size and self._holds_more())) \
                and (data := self._read(size - have)):
            parts.append(data)
            have += len(data)
        self._kept, self._kept_at = b"".join(parts), offset
        return self._kept

    def _holds_more(self) -> bool:
        """Whether a read of the pipe would return at once."""
        return self._pipe is not None and bool(select.select([self._pipe], [], [], 0)[0])

    def _skip(self, count: int) -> None:
        while count > 0 and (data := self._read(min(count, 1 << 20))):
            count -= len(data)

    def _read(self, size: int) -> bytes:
        if self.ended:
            return b""
        try:
            data = self._read_some(size)
        except DAMAGED_STREAM:
            self.damaged = True
            data = b""
        self.ended = not data
        return data

    def consumed(self, offset: int) -> int:
        if self._raw is not None and self._raw.seekable():
            return self._raw.tell()
        return offset

    def close(self) -> None:
        for stream in (self._source, self._raw):
            if stream is not None and stream is not sys.stdin.buffer:
                stream.close()


def open_input(path: str | Path) -> FileInput | StreamInput:
    """The input at ``path`` (``-``: standard input); a compressed one is decompressed."""
    if str(path) == STDIN:
        return _stream(sys.stdin.buffer, STDIN)
    return _input_of(io.FileIO(path, "rb"), str(path))


def _input_of(handle: io.FileIO, path: str) -> FileInput | StreamInput:
    try:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISFIFO(mode):
            return _stream(io.BufferedReader(handle), path)
        if not stat.S_ISREG(mode):
            raise InputError(f"{path} is not a regular file or a pipe")
        file = FileInput(handle)
        decompressor = _decompressor(file.read_at(0, 6), path)
        if decompressor is None:
            return file
        return StreamInput(decompressor(handle, "rb"), once=False, raw=handle, size=file.size)
    except BaseException:
        handle.close()
        raise


def _stream(reader: io.BufferedReader, path: str) -> StreamInput:
    """Standard input or a pipe, through a decompressor when its first bytes call for one."""
    _widen_pipe(reader.fileno())
    decompressor = _decompressor(reader.peek(6)[:6], path)
    if decompressor is None:
        return StreamInput(reader, once=True)
    return StreamInput(decompressor(reader, "rb"), once=True, raw=reader)


def _widen_pipe(fd: int) -> None:
    """A pipe of 1 MiB rather than 64 KiB: a sixth of the reads, and the writer waits less
    (``cat capture | liaowang replay -``: 1.4 → 0.9 s for the benchmark's 770 MB)."""
    if stat.S_ISFIFO(os.fstat(fd).st_mode):
        with contextlib.suppress(OSError):     # over the system's limit: as it is
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _decompressor(magic: bytes, path: str) -> Callable[..., io.BufferedIOBase] | None:
    for prefix, name in UNREAD_COMPRESSION.items():
        if magic.startswith(prefix):
            raise InputError(f"{path} is {name}-compressed; decompress it first")
    for prefix, decompressor in DECOMPRESSORS.items():
        if magic.startswith(prefix):
            return decompressor
    return None
