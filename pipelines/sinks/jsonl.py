"""JSON lines: one event per line, to a file or standard output.

>>> import io
>>> out = io.StringIO()
>>> JsonlSink(out).write([{"event": {"id": "a"}}])
>>> out.getvalue()
'{"event":{"id":"a"}}\\n'
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Sequence
from typing import IO

import orjson

from pipelines.sinks.base import Event, Sink


class JsonlSink(Sink):
    def __init__(self, stream: IO[str], owns_stream: bool = False) -> None:
        self.stream = stream
        self.owns_stream = owns_stream

    @classmethod
    def open(cls, target: str) -> JsonlSink:
        """``-`` is standard output; anything else a file path (appended to)."""
        if target == "-":
            return cls(sys.stdout)
        return cls(open(target, "a", encoding="utf-8"), owns_stream=True)

    def write(self, events: Sequence[Event]) -> None:
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        lines = b"".join([dumps(event, option=newline) for event in events])
        binary = getattr(self.stream, "buffer", None)
        if binary is None or not _utf8(self.stream):    # a text-only stream, or another code
            self.stream.write(lines.decode())
            return
        self.stream.flush()     # orjson's UTF-8 goes past the text layer, behind what it holds
        binary.write(lines)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.flush()
        if self.owns_stream:
            self.stream.close()


def _utf8(stream: IO[str]) -> bool:
    return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
