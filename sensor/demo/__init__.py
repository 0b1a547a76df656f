"""The bundled demo capture, replayed as if it were live (for ``liaowang up``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sensor.capture import CaptureFile, Frame

DEMO_PCAP = Path(__file__).with_name("demo.pcap")


def live_frames(stop: threading.Event, path: Path = DEMO_PCAP,
                loops: int | None = None) -> Iterator[list[Frame]]:
    """Batches of the capture's frames at their pace, re-timed to the present, in a loop,
    until ``stop`` is set (or after ``loops`` passes)."""
    done = 0
    while not stop.is_set() and (loops is None or done < loops):
        frames = list(CaptureFile(path))
        if not frames:
            return
        shift = time.time_ns() - frames[0].ts_ns
        yield from _paced(frames, shift, stop)
        done += 1


def _paced(frames: list[Frame], shift_ns: int, stop: threading.Event) -> Iterator[list[Frame]]:
    """Frames due at the same moment travel together; between moments, wait."""
    batch: list[Frame] = []
    for frame in frames:
        wait = (frame.ts_ns + shift_ns) / 1e9 - time.time()
        if wait > 0:
            if batch:
                yield batch
                batch = []
            if stop.wait(wait):
                return
        batch.append(Frame(frame.number, frame.ts_ns + shift_ns, frame.linktype,
                           frame.wire_len, frame.data))
    if batch:
        yield batch
