"""Offline runs: capture files through the sensor into sinks, with a summary."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detection.base import Detector, detect
from liaowang.config import SensorSettings
from pipelines.enrich import EnrichedSinks
from pipelines.sinks.base import Sink
from sensor.capture import CaptureError, CaptureFile
from sensor.collector import collector_paused
from sensor.engine import Sensor

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


@dataclass(slots=True)
class ReplaySummary:
    packets: int = 0
    flows: int = 0
    events: int = 0
    alerts: int = 0
    incidents: int = 0
    malformed: int = 0
    weirds_unreported: int = 0
    seconds: float = 0.0
    truncated: list[str] = field(default_factory=list)
    spool_left: int | None = None   # events still in the spool at the end (None: no spool)

    def line(self) -> str:
        rate = self.packets / self.seconds if self.seconds else 0.0
        text = (f"packets={self.packets} flows={self.flows} events={self.events} "
                f"alerts={self.alerts} malformed={self.malformed} "
                f"packets/s={rate:,.0f} seconds={self.seconds:.2f} incidents={self.incidents}")
        if self.weirds_unreported:
            text += f" weirds_unreported={self.weirds_unreported}"
        if self.spool_left is not None:
            text += f" spool_left={self.spool_left}"
        for name in self.truncated:
            text += f"\ntruncated: {name} ends in the middle of a packet; read up to the break"
        return text


def open_captures(paths: Sequence[str], rotated: bool = False) -> list[CaptureFile]:
    """Open every file first, so a bad name fails before any work is done. The files of a
    rotated capture need names of their own: events name the file of their frame."""
    captures = [CaptureFile(path) for path in paths]
    names = Counter(capture.name for capture in captures)
    if rotated and (twice := [name for name, count in names.items() if count > 1]):
        raise CaptureError(f"the files of a rotated capture need names of their own: "
                           f"{', '.join(twice)} more than once")
    return captures


def replay(captures: Sequence[CaptureFile], sinks: Sequence[Sink], settings: SensorSettings,
           progress: Progress | None = None, detectors: Sequence[Detector] = (),
           rotated: bool = False) -> ReplaySummary:
    """Every capture through a sensor of its own, the detectors (whose state spans the
    captures, in the order given) and into the sinks. ``rotated``: the captures are one, cut
    into files in the order given, and go through one sensor (:meth:`Sensor.next_file`)."""
    summary = ReplaySummary()
    started = time.perf_counter()
    sensor: Sensor | None = None
    paths: dict[str, str | None] = {}   # log.file.path by pcap.file
    frames = 0
    for capture in captures:
        if sensor is not None and rotated:
            capture.first_number = frames
            sensor.next_file(capture.name, frames)
        else:
            sensor, paths = Sensor.from_settings(settings, pcap_file=capture.name), {}
        paths[capture.name] = None if capture.stream else str(capture.path.resolve())
        _read(capture, settings.batch_size, sensor, paths, sinks, detectors, summary, progress)
        frames = capture.last_number
        if not rotated or capture is captures[-1]:
            with collector_paused():
                _emit(sinks, detect(detectors, _from_file(sensor.finish(), paths)), summary)
            _add(summary, sensor)
    _emit(sinks, [alert for detector in detectors for alert in detector.finish()], summary)
    for sink in sinks:
        sink.finish()
        sink.flush()
    _count_delivered(summary, sinks)
    summary.seconds = time.perf_counter() - started
    return summary


def _read(capture: CaptureFile, batch_size: int, sensor: Sensor, paths: dict[str, str | None],
          sinks: Sequence[Sink], detectors: Sequence[Detector], summary: ReplaySummary,
          progress: Progress | None) -> None:
    """One capture's blocks through the sensor, the detectors and into the sinks."""
    done = 0
    for block in capture.blocks(batch_size):
        with collector_paused():   # the block's events are gone when it runs again
            _emit(sinks, detect(detectors, _from_file(sensor.process_block(block), paths)),
                  summary)
        if progress:
            progress(capture.consumed - done, capture.size)
            done = capture.consumed
    if capture.truncated:
        summary.truncated.append(capture.name if capture.stream else str(capture.path))


def _from_file(events: list, paths: dict[str, str | None]) -> list:
    """Events with the capture file their frame was read from (``log.file.path``), so that
    the console can export their packets from it; none for a stream, which is gone."""
    if len(paths) == 1:
        (path,) = paths.values()
        if path is not None:
            for event in events:
                event["log"] = {"file": {"path": path}}
        return events
    for event in events:
        path = paths.get(event["pcap"]["file"])
        if path is not None:
            event["log"] = {"file": {"path": path}}
    return events


def _emit(sinks: Sequence[Sink], events: list, summary: ReplaySummary) -> None:
    if not events:
        return
    summary.alerts += sum(1 for e in events if e["event"]["kind"] == "alert")
    for sink in sinks:
        sink.write(events)


def _count_delivered(summary: ReplaySummary, sinks: Sequence[Sink]) -> None:
    """Alerts as the sinks got them: fusion folds repeats and intel adds its own, so the
    detectors' count is only the answer when no enrichment stands in front of the sinks."""
    enriched = [sink for sink in sinks if isinstance(sink, EnrichedSinks)]
    if enriched:
        summary.alerts = sum(sink.alerts for sink in enriched)
        summary.incidents = sum(len(sink.incidents) for sink in enriched)


def _add(summary: ReplaySummary, sensor: Sensor) -> None:
    stats = sensor.stats
    summary.packets += stats.packets
    summary.flows += stats.flows
    summary.events += stats.events
    summary.malformed += stats.malformed
    summary.weirds_unreported += stats.weirds_unreported
