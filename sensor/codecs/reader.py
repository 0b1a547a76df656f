"""Reading fields from a message without running past its end.

>>> r = Reader(bytes.fromhex("0102 0304"), "little")
>>> r.u8(), r.u16(), r.left
(1, 770, 1)
>>> r.take(2)
Traceback (most recent call last):
...
sensor.codecs.reader.Truncated: 2
"""

from __future__ import annotations

from typing import Literal


class Truncated(ValueError):
    """A field runs past its container; decoders catch it at their boundary."""


class Reader:
    """Fields of one byte order from a byte string, refusing to read past its end."""

    __slots__ = ("data", "order", "pos")

    def __init__(self, data: bytes, order: Literal["big", "little"] = "big") -> None:
        self.data, self.order, self.pos = data, order, 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, size: int) -> bytes:
        if size > self.left:
            raise Truncated(size)
        self.pos += size
        return self.data[self.pos - size:self.pos]

    def skip(self, size: int) -> None:
        self.take(size)

    def peek(self) -> int | None:
        return self.data[self.pos] if self.left else None

    def u8(self) -> int:
        return self.take(1)[0]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), self.order)

    def u16(self) -> int:
        return self.uint(2)

    def u32(self) -> int:
        return self.uint(4)
