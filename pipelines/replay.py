"""Offline runs: capture files through the sensor into sinks, with a summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detection.base import Detector, detect
from liaowang.config import SensorSettings
from pipelines.enrich import EnrichedSinks
from pipelines.sinks.base import Sink
from sensor.capture import CaptureFile
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


def open_captures(paths: Sequence[str]) -> list[CaptureFile]:
    """Open every file first, so a bad name fails before any work is done."""
    return [CaptureFile(path) for path in paths]


def replay(captures: Sequence[CaptureFile], sinks: Sequence[Sink], settings: SensorSettings,
           progress: Progress | None = None, detectors: Sequence[Detector] = ()
           ) -> ReplaySummary:
    """Every capture through a sensor of its own, the detectors (whose state spans the
    captures, in the order given) and into the sinks."""
    summary = ReplaySummary()
    started = time.perf_counter()
    for capture in captures:
        sensor = Sensor.from_settings(settings, pcap_file=capture.name)
        path = None if capture.stream else str(capture.path.resolve())
        done = 0
        for block in capture.blocks(settings.batch_size):
            with collector_paused():   # the block's events are gone when it runs again
                _emit(sinks, detect(detectors, _from_file(sensor.process_block(block), path)),
                      summary)
            if progress:
                progress(capture.consumed - done, capture.size)
                done = capture.consumed
        with collector_paused():
            _emit(sinks, detect(detectors, _from_file(sensor.finish(), path)), summary)
        _add(summary, sensor)
        if capture.truncated:
            summary.truncated.append(capture.name if capture.stream else str(capture.path))
    _emit(sinks, [alert for detector in detectors for alert in detector.finish()], summary)
    for sink in sinks:
        sink.finish()
        sink.flush()
    _count_delivered(summary, sinks)
    summary.seconds = time.perf_counter() - started
    return summary


def _from_file(events: list, path: str | None) -> list:
    """Events with the capture file they were read from (``log.file.path``), so that the
    console can export their packets from it; none for a stream, which is gone."""
    if path is None:
        return events
    for event in events:
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
