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
import gzip
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

STDIN = "-"
DECOMPRESSORS: dict[bytes, Callable[..., BinaryIO]] = {
    b"\x1f\x8b": gzip.open, b"\xfd7zXZ\x00": lzma.open, b"BZh": bz2.open}
UNREAD_COMPRESSION = {b"\x28\xb5\x2f\xfd": "zstd", b"\x04\x22\x4d\x18": "lz4"}
# What a decompressor raises on damaged or cut input: the capture ends there.
DAMAGED_STREAM = (EOFError, zlib.error, lzma.LZMAError, OSError)


class InputError(Exception):
    """The input cannot be read as a capture at all (the reason is the message)."""


class FileInput:
    """A regular file, read at any offset."""

    once = False        # it can be opened again
    damaged = False

    def __init__(self, handle: BinaryIO) -> None:
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
    """A stream read front to back; ``raw``: the compressed file under a decompressor, whose
    position tells the progress through the input, and which can be opened again (standard
    input and a pipe are read ``once``)."""

    def __init__(self, source: BinaryIO, raw: BinaryIO | None = None, size: int = 0) -> None:
        self._source, self._raw = source, raw
        self.once = raw is None
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
        while have < least and (data := self._read(size - have)):
            parts.append(data)
            have += len(data)
        self._kept, self._kept_at = b"".join(parts), offset
        return self._kept

    def _skip(self, count: int) -> None:
        while count > 0 and (data := self._read(min(count, 1 << 20))):
            count -= len(data)

    def _read(self, size: int) -> bytes:
        if self.ended:
            return b""
        try:
            data = self._source.read(size)
        except DAMAGED_STREAM:
            self.damaged = True
            data = b""
        self.ended = not data
        return data

    def consumed(self, offset: int) -> int:
        return self._raw.tell() if self._raw is not None else offset

    def close(self) -> None:
        if self._source is not sys.stdin.buffer:
            self._source.close()
        if self._raw is not None:
            self._raw.close()


def open_input(path: str | Path) -> FileInput | StreamInput:
    """The input at ``path`` (``-``: standard input); a compressed file is decompressed."""
    if str(path) == STDIN:
        return StreamInput(sys.stdin.buffer)
    return _input_of(open(path, "rb", buffering=0), str(path))


def _input_of(handle: BinaryIO, path: str) -> FileInput | StreamInput:
    try:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISFIFO(mode):
            return StreamInput(handle)
        if not stat.S_ISREG(mode):
            raise InputError(f"{path} is not a regular file or a pipe")
        return _file_or_decompressed(handle, path)
    except BaseException:
        handle.close()
        raise


def _file_or_decompressed(handle: BinaryIO, path: str) -> FileInput | StreamInput:
    file = FileInput(handle)
    magic = file.read_at(0, 6)
    for prefix, name in UNREAD_COMPRESSION.items():
        if magic.startswith(prefix):
            raise InputError(f"{path} is {name}-compressed; decompress it first")
    for prefix, decompressor in DECOMPRESSORS.items():
        if magic.startswith(prefix):
            return StreamInput(decompressor(handle, "rb"), handle, file.size)
    return file
