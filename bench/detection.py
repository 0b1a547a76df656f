"""Throughput of the signature engine: the full shipped pack over replayed real events.

The events come from the public captures in ../shared/pcaps (every capture of at most
``--max-packets`` packets, run through the sensor once, before timing); the detector then sees
them in batches, as ``liaowang replay`` hands them over, on one core. Prints events/s.

    python -m bench.detection [--pcaps DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import time
from pathlib import Path
from typing import Any

from detection.sigma import SigmaDetector
from sensor.capture import CaptureError, CaptureFile
from sensor.engine import Sensor

ROOT = Path(__file__).resolve().parents[1]
PCAPS = Path(os.environ.get("LIAOWANG_PCAPS", ROOT.parent / "shared" / "pcaps"))
BATCH = 4096


def replayed_events(pcaps: Path, max_packets: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with (pcaps / "MANIFEST.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        if int(row["packets"] or 0) > max_packets:
            continue
        path = pcaps / row["path"]
        sensor = Sensor("bench", pcap_file=path.name)
        try:
            for block in CaptureFile(path).blocks(4096):
                events += sensor.process_block(block)
        except CaptureError:
            continue
        events += sensor.finish()
    return events


def measure(events: list[dict[str, Any]], repeat: int) -> tuple[float, int]:
    """Best events/s over ``repeat`` runs of a fresh detector, and the alerts of one run."""
    best, alerts = 0.0, 0
    for _ in range(repeat):
        detector = SigmaDetector.load()
        started = time.perf_counter()
        alerts = sum(len(detector.process(events[i:i + BATCH]))
                     for i in range(0, len(events), BATCH))
        best = max(best, len(events) / (time.perf_counter() - started))
    return best, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pcaps", type=Path, default=PCAPS)
    parser.add_argument("--max-packets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events = replayed_events(args.pcaps, args.max_packets)
    datasets = collections.Counter(event["event"]["dataset"] for event in events)
    rate, alerts = measure(events, args.repeat)
    print(f"events: {len(events)} ({', '.join(f'{d} {n}' for d, n in datasets.most_common())})")
    print(f"rules: {SigmaDetector.load().rule_count}, alerts: {alerts}")
    print(f"signature engine: {rate:,.0f} events/s (one core, full shipped pack)")


if __name__ == "__main__":
    main()
