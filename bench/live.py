"""Live capture at a rate: the benchmark capture sent with tcpreplay into ``liaowang sensor``.

    .venv/bin/python -m bench.live [CAPTURE] [--pps N ...] [--modes flows,full]

A veth pair in a network namespace of its own (:mod:`bench.tap`) carries the capture from
tcpreplay, which loads the whole file first (``--preload-pcap``) and runs on one CPU, to the
sensor (AF_PACKET ring, JSON lines to /dev/null, Sigma pack loaded), which runs on the other.
For each rate and mode, the sensor is started afresh, sent the whole capture, given the time
to read what its ring still holds, and stopped with SIGTERM; its summary line gives what it
received and what the kernel dropped because the ring was full. The sensor's load is its CPU
time from the start of the sending to the last packet read, over the time the sending took:
above 100 % it cannot keep up, below it the ring has only bursts to absorb. Modes: ``flows``
(``--analyzers none``: the flow meter, GTP-U tunnels included) and ``full`` (every analyzer).

Needs root (namespaces), iproute2 and tcpreplay (``make test`` installs it); without them it
says why and does nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.tap import SensorProcess, Tap, TapError, open_tap, unavailable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CAPTURE = ROOT / ".cache" / "bench" / "bench.pcap"
LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
MODES = {"flows": ("--analyzers", "none"), "full": ()}
SUMMARY = re.compile(r"^received=(\d+) dropped=(\d+) decoded=(\d+) malformed=(\d+) flows=(\d+) "
                     r"events=(\d+)", re.M)
METRICS_PORT = 9464          # inside the namespace, where nothing else listens
SENSOR_CPU, REPLAY_CPU = (1, 0) if (os.cpu_count() or 1) > 1 else (0, 0)


@dataclass(slots=True)
class LiveResult:
    mode: str
    pps: int
    sent: int
    received: int
    dropped: int
    flows: int
    events: int
    load: float     # the sensor's CPU time for the capture over the time it took to send

    @property
    def lost(self) -> int:
        """Sent but never read: dropped by the kernel, or still in the ring at the end."""
        return self.sent - self.received


def start_sensor(tap: Tap, options: Sequence[str]) -> SensorProcess:
    """``liaowang sensor`` on the tap, pinned to its CPU, its metrics served in the namespace."""
    command = ["taskset", "-c", str(SENSOR_CPU), LIAOWANG, "sensor", "--iface", tap.taps[0],
               "--jsonl", os.devnull, "--metrics-port", str(METRICS_PORT), *options]
    return SensorProcess(subprocess.Popen(tap.command(*command), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))


def counts(tap: Tap) -> tuple[int, int]:
    """Packets the sensor received and the kernel dropped so far, from its metrics."""
    samples = tap.metrics(METRICS_PORT)

    def total(name: str) -> int:   # summed over the interfaces
        return int(sum(value for key, value in samples.items() if key.startswith(f"{name}{{")))

    return total("liaowang_sensor_packets_total"), total("liaowang_sensor_kernel_drops_total")


def wait_drained(tap: Tap, sent: int, timeout: float = 120) -> None:
    """Until every packet sent is received or dropped, or the counts stop moving for 3 s."""
    deadline, last, since = time.monotonic() + timeout, (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        now = counts(tap)
        if sum(now) >= sent:
            return
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 3:
            return
        time.sleep(0.5)


def run_once(tap: Tap, capture: Path, pps: int, mode: str) -> LiveResult:
    sensor = start_sensor(tap, MODES[mode])
    try:
        sensor.wait_capturing(timeout=60)
        cpu_before = sensor.cpu_seconds()
        sent = tap.replay(capture, pps=pps, preload=True, cpu=REPLAY_CPU,
                          timeout=600 + 4 * _packets_hint(capture) / pps)
        wait_drained(tap, sent)
        load = (sensor.cpu_seconds() - cpu_before) / (sent / pps)
        _code, stderr = sensor.stop(timeout=120)
    finally:
        sensor.end()
    match = SUMMARY.search(stderr)
    if not match:
        raise TapError(f"no summary from the sensor: {stderr}")
    received, dropped, _decoded, _malformed, flows, events = map(int, match.groups())
    return LiveResult(mode, pps, sent, received, dropped, flows, events, load)


def _packets_hint(capture: Path) -> float:
    """A generous guess at the packet count (bytes over a small packet), for the timeout."""
    return capture.stat().st_size / 64


def report(results: list[LiveResult]) -> str:
    rows = ["| mode | rate (pps) | sent | received | kernel drops | lost | flows | events "
            "| sensor load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(f"| {r.mode} | {r.pps:,} | {r.sent:,} | {r.received:,} | {r.dropped:,} | "
                    f"{r.lost / r.sent:.2%} | {r.flows:,} | {r.events:,} | {r.load:.0%} |")
    return "\n".join(rows)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--pps", type=int, action="append",
                        help="rate to send at (repeatable; default 100000 and 200000)")
    parser.add_argument("--modes", default="flows,full",
                        help=f"comma-separated, of: {', '.join(MODES)}")
    args = parser.parse_args(argv)
    args.pps = args.pps or [100_000, 200_000]
    args.modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {', '.join(unknown)}; modes: {', '.join(MODES)}")
    if any(pps <= 0 for pps in args.pps):
        parser.error("--pps must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    why = unavailable() or (None if shutil.which("tcpreplay") else "tcpreplay is not installed")
    if why:   # a machine without namespaces: the rest of ``make bench`` still runs
        print(f"bench.live: not run: {why}", file=sys.stderr)
        return 0
    if not args.capture.exists():
        print(f"bench.live: {args.capture} does not exist (make bench builds it)",
              file=sys.stderr)
        return 2
    results = []
    with open_tap("lw-bench-") as tap:
        for mode in args.modes:
            for pps in args.pps:
                result = run_once(tap, args.capture, pps, mode)
                print(f"{mode} at {pps:,} pps: sent {result.sent:,}, received "
                      f"{result.received:,}, kernel drops {result.dropped:,}", flush=True)
                results.append(result)
    print(f"\n### Live capture (`python -m bench.live`)\n\nSensor on CPU {SENSOR_CPU}, "
          f"tcpreplay on CPU {REPLAY_CPU}; {args.capture.name}.\n")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
