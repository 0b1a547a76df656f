"""Live runs: interfaces through the sensor into sinks, with Prometheus metrics and final counts.

:func:`open_live` opens the interfaces and the metrics endpoint (or refuses with
:class:`LiveSetupError`); :meth:`LiveRun.run` then reads until a stop is asked for (SIGINT or
SIGTERM under :func:`stop_on_signals`), flushes the sinks at least every ``flush_interval``
seconds, and at the end flushes the sensor's flows and the sinks once more.

Metrics (only when a port is given; all read at scrape time from the run):
``liaowang_sensor_packets_total``, ``_bytes_total`` and ``_kernel_drops_total`` per interface,
``_malformed_total``, ``_weirds_unreported_total`` (left out by the sampling, see
:mod:`sensor.weirds`), ``_events_total`` per dataset, ``_flows_active``, and ``_lag_seconds``: how
far behind the wire the sensor was when it last processed a batch (the time then, less the
timestamp of the batch's last packet).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detection.base import Detector, detect
from liaowang.config import SensorSettings
from pipelines.packets.buffer import PacketBuffer
from pipelines.sinks.base import Event, Sink
from sensor.capture import FrameBlock
from sensor.collector import collector_paused
from sensor.engine import Sensor
from sensor.live import LiveCapture, LiveCaptureError


class LiveSetupError(Exception):
    """A live run that cannot start: an interface, a filter or the metrics port."""


class LiveRun:
    """One live run: capture → sensor → sinks, with the counts the metrics and summary show."""

    def __init__(self, capture: LiveCapture, sensor: Sensor, flush_interval: float = 1.0) -> None:
        self.capture, self.sensor = capture, sensor
        self.sinks: list[Sink] = []
        self.detectors: list[Detector] = []
        self.flush_interval = flush_interval
        self.events_by_dataset: Counter[str] = Counter()
        self.lag_s = 0.0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._metrics: WSGIServer | None = None
        self.packet_buffer: PacketBuffer | None = None   # recent packets for pcap export

    def run(self, stop: threading.Event, sinks: Sequence[Sink]) -> None:
        """Read into ``sinks`` until ``stop`` is set; however it ends, end the flows and flush."""
        self.sinks = list(sinks)
        next_flush = time.monotonic() + self.flush_interval
        try:
            for block in self.capture.batches(stop):
                if len(block):
                    self._process(block)
                else:
                    self._emit(detect(self.detectors, self.sensor.tick(time.time_ns())))
                if time.monotonic() >= next_flush:
                    self._flush()
                    next_flush = time.monotonic() + self.flush_interval
        finally:
            self._emit(detect(self.detectors, self.sensor.finish()))
            self._emit([alert for detector in self.detectors for alert in detector.finish()])
            for sink in self.sinks:
                sink.finish()
            self._flush()

    def _process(self, block: FrameBlock) -> None:
        if self.packet_buffer is not None:
            self.packet_buffer.write(block.frames())
        with collector_paused():
            self._emit(detect(self.detectors, self.sensor.process_block(block)))
        self.lag_s = time.time() - int(block.records["ts_ns"][-1]) / 1e9

    def _emit(self, events: list[Event]) -> None:
        if not events:
            return
        counts = Counter(event["event"]["dataset"] for event in events)
        with self._lock:
            self.events_by_dataset.update(counts)
        for sink in self.sinks:
            sink.write(events)

    def _flush(self) -> None:
        self.capture.refresh_stats()
        for sink in self.sinks:
            sink.flush()

    def events_snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.events_by_dataset)

    def serve_metrics(self, host: str, port: int) -> None:
        """Serve Prometheus metrics on ``host:port`` until :meth:`close`."""
        registry = CollectorRegistry()
        registry.register(LiveCollector(self))
        ProcessCollector(registry=registry)  # memory, CPU time, open files
        try:
            self._metrics, _thread = start_http_server(port, host, registry=registry)
        except OSError as exc:
            raise LiveSetupError(f"metrics port {host}:{port}: {exc.strerror or exc}") from exc

    def summary(self) -> str:
        """Final counts: one line per interface when there are several, then the totals."""
        stats = self.capture.stats
        lines = [f"{name}: received={s.received} dropped={s.dropped}"
                 for name, s in stats.items()] if len(stats) > 1 else []
        sensor = self.sensor.stats
        lines.append(
            f"received={sum(s.received for s in stats.values())} "
            f"dropped={sum(s.dropped for s in stats.values())} "
            f"decoded={sensor.packets - sensor.malformed} malformed={sensor.malformed} "
            f"flows={sensor.flows} events={sensor.events} "
            f"seconds={time.monotonic() - self.started:.2f}"
            + (f" weirds_unreported={sensor.weirds_unreported}" if sensor.weirds_unreported
               else ""))
        return "\n".join(lines)

    def close(self) -> None:
        """Stop the metrics endpoint and close the interfaces (the sinks stay open)."""
        if self._metrics is not None:
            self._metrics.shutdown()
            self._metrics.server_close()
        if self.packet_buffer is not None:
            self.packet_buffer.close()
        self.capture.close()


class LiveCollector(Collector):
    """The run's counts as Prometheus metrics, read when scraped."""

    def __init__(self, run: LiveRun) -> None:
        self.run = run

    def collect(self) -> Iterable[Metric]:
        yield from self._interfaces()
        stats = self.run.sensor.stats
        yield _counter("malformed", "Packets that could not be decoded", stats.malformed)
        yield _counter("weirds_unreported", "Weirds counted but left out by the sampling",
                       stats.weirds_unreported)
        events = CounterMetricFamily("liaowang_sensor_events", "Events emitted",
                                     labels=["dataset"])
        for dataset, count in sorted(self.run.events_snapshot().items()):
            events.add_metric([dataset], count)
        yield events
        yield _counter("flows_evicted", "Flows ended early to bound memory", stats.evicted_flows)
        yield GaugeMetricFamily("liaowang_sensor_flows_active", "Flows in the flow table",
                                value=len(self.run.sensor.flows))
        yield GaugeMetricFamily("liaowang_sensor_lag_seconds", "Processing time less the "
                                "timestamp of the last packet processed", value=self.run.lag_s)

    def _interfaces(self) -> Iterator[Metric]:
        families = {
            "received": CounterMetricFamily("liaowang_sensor_packets", "Packets received",
                                            labels=["interface"]),
            "bytes": CounterMetricFamily("liaowang_sensor_bytes", "Bytes received (on the wire)",
                                         labels=["interface"]),
            "dropped": CounterMetricFamily("liaowang_sensor_kernel_drops",
                                           "Packets the kernel dropped: the ring was full",
                                           labels=["interface"]),
        }
        for name, stats in self.run.capture.stats.items():
            for field, family in families.items():
                family.add_metric([name], getattr(stats, field))
        yield from families.values()


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"liaowang_sensor_{name}", documentation, value=value)


def open_live(interfaces: Sequence[str], bpf: str | None, settings: SensorSettings,
              metrics_port: int | None = None) -> LiveRun:
    """Open the interfaces and, if a port is given (0: none), the metrics endpoint."""
    live = settings.live
    port = live.metrics_port if metrics_port is None else metrics_port
    if not 0 <= port <= 65535:
        raise LiveSetupError(f"metrics port {port}: not a port number (0 turns metrics off)")
    sensor = Sensor.from_settings(settings)
    sensor.load_analyzers()
    try:
        capture = LiveCapture.open(interfaces, bpf or None, live.ring_mb, live.block_timeout_ms)
    except LiveCaptureError as exc:
        raise LiveSetupError(str(exc)) from exc
    run = LiveRun(capture, sensor)
    if settings.packet_buffer is not None:
        try:
            run.packet_buffer = PacketBuffer.from_settings(settings.packet_buffer)
        except OSError as exc:
            capture.close()
            raise LiveSetupError(f"sensor.packet_buffer.path {settings.packet_buffer.path}: "
                                 f"{exc.strerror or exc}") from exc
    if port:
        try:
            run.serve_metrics(live.metrics_host, port)
        except LiveSetupError:
            capture.close()
            raise
    return run


@contextmanager
def stop_on_signals(*signums: int) -> Iterator[threading.Event]:
    """An event set by SIGINT and SIGTERM (or ``signums``); the old handlers come back after.

    A second signal, while the run is still finishing, raises :class:`KeyboardInterrupt`.

    >>> import os
    >>> with stop_on_signals(signal.SIGUSR1) as stop:
    ...     os.kill(os.getpid(), signal.SIGUSR1)
    ...     stop.is_set()
    True
    """
    stop = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    wanted = signums or (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, handler) for signum in wanted}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
