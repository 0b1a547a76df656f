"""The live sensor's rolling packet buffer: recent packets on disk, bounded in size, so that the
console can export the packets of an alert seen live.

Packets go into pcap segments of ``segment_s`` seconds of capture time (a new segment also
starts when the link type changes), named by the capture time of their first packet in
nanoseconds: ``<ns>.pcap``, which is the buffer's index. When the segments weigh more than
``max_mb`` in all, the oldest are deleted. A segment is flushed after every batch so that a
reader sees it up to its last complete packet.

>>> import tempfile
>>> from sensor.capture import Frame
>>> buffer = PacketBuffer(tempfile.mkdtemp(), max_bytes=1 << 20, segment_s=60)
>>> buffer.write([Frame(1, 1_700_000_000 * 10**9, 1, 60, bytes(60))])
>>> [path.name for path in buffer.segments(0, 2 * 10**18)]
['01700000000000000000.pcap']
>>> buffer.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from liaowang.config import PacketBufferSettings
from pipelines.packets.pcapfile import PcapWriter
from sensor.capture import Frame

SUFFIX = ".pcap"
HEADER_BYTES = 24


class PacketBuffer:
    def __init__(self, path: str | Path, max_bytes: int, segment_s: float = 60.0) -> None:
        self.folder = Path(path)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.segment_ns = max_bytes, int(segment_s * 1e9)
        self.sizes = {segment: segment.stat().st_size for segment in self._on_disk()}
        self._file: BinaryIO | None = None
        self._writer: PcapWriter | None = None
        self._current: Path | None = None
        self._started_ns = 0

    @classmethod
    def from_settings(cls, settings: PacketBufferSettings) -> PacketBuffer:
        return cls(settings.path, settings.max_mb << 20, settings.segment_s)

    def write(self, frames: Sequence[Frame]) -> None:
        """Append ``frames`` (in capture order) and drop the oldest segments beyond the bound."""
        if frames and self._fits(frames):
            self._append(list(frames))        # the usual case: all into the current segment
        else:
            self._split(frames)
        if self._file is not None:
            self._file.flush()
        self._trim()

    def _fits(self, frames: Sequence[Frame]) -> bool:
        linktype = frames[0].linktype
        return not self._needs_segment(frames[0]) and not self._needs_segment(frames[-1]) and \
            all(frame.linktype == linktype for frame in frames)

    def _split(self, frames: Iterable[Frame]) -> None:
        """Append ``frames``, starting segments where they must."""
        run: list[Frame] = []
        for frame in frames:
            if self._needs_segment(frame):
                self._append(run)
                run = []
                self._open(frame)
            run.append(frame)
        self._append(run)

    def segments(self, start_ns: int, end_ns: int) -> list[Path]:
        return segments(self.folder, start_ns, end_ns)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None

    def _needs_segment(self, frame: Frame) -> bool:
        return self._writer is None or self._writer.linktype != frame.linktype or \
            frame.ts_ns - self._started_ns >= self.segment_ns

    def _open(self, frame: Frame) -> None:
        self.close()
        self._current = self.folder / f"{frame.ts_ns:020d}{SUFFIX}"
        self._file = self._current.open("wb")
        self._writer = PcapWriter(self._file, frame.linktype)
        self._started_ns = frame.ts_ns
        self.sizes[self._current] = HEADER_BYTES

    def _append(self, frames: list[Frame]) -> None:
        if frames and self._writer is not None and self._current is not None:
            self.sizes[self._current] += self._writer.write(frames)

    def _trim(self) -> None:
        """Delete the oldest segments (never the one being written) beyond the bound."""
        total = sum(self.sizes.values())
        for segment in sorted(self.sizes, key=_start_ns):
            if total <= self.max_bytes or segment == self._current:
                break
            total -= self.sizes.pop(segment)
            segment.unlink(missing_ok=True)

    def _on_disk(self) -> list[Path]:
        return _on_disk(self.folder)


def segments(folder: str | Path, start_ns: int, end_ns: int) -> list[Path]:
    """The segments in ``folder`` that may hold packets captured from ``start_ns`` to
    ``end_ns``, oldest first (a reader in another process, such as the console, calls this)."""
    names = sorted(_on_disk(Path(folder)), key=_start_ns)
    starts = [_start_ns(name) for name in names]
    ends = [*starts[1:], 2**63][:len(starts)]
    return [name for name, first, after in zip(names, starts, ends, strict=True)
            if first <= end_ns and after > start_ns]


def _on_disk(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [path for path in folder.glob(f"*{SUFFIX}") if path.stem.isdigit()]


def _start_ns(path: Path) -> int:
    return int(path.stem)
