"""The public captures in ../shared/pcaps, and running the sensor over them in tests."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

from sensor.capture import CaptureFile, FrameBlock
from sensor.engine import Sensor

ROOT = Path(__file__).resolve().parents[2]
PCAPS = Path(os.environ.get("LIAOWANG_PCAPS", ROOT.parent / "shared" / "pcaps"))


def manifest() -> list[dict[str, str]]:
    with (PCAPS / "MANIFEST.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def captures_with(protocol: str) -> list[Path]:
    """Captures in which tshark found ``protocol`` (per the manifest)."""
    return [PCAPS / row["path"] for row in manifest()
            if any(p.split(":")[0] == protocol
                   for p in re.split(r"[;\s]+", row["protocols_found"]))]


def run_sensor(path: Path, observer: str = "test-sensor", frames: int | None = None,
               **options: Any) -> list[dict[str, Any]]:
    """All events of one capture, or of its first ``frames`` frames, with analyzer exceptions
    re-raised (strict)."""
    options.setdefault("strict", True)
    return sensor_events(path, Sensor(observer, pcap_file=path.name, **options), frames=frames)


def sensor_events(path: Path, sensor: Sensor, frames_per_block: int = 512,
                  frames: int | None = None) -> list[dict[str, Any]]:
    """All events ``sensor`` makes of one capture (or of its first ``frames`` frames), read in
    blocks of ``frames_per_block``."""
    events: list[dict[str, Any]] = []
    for block in CaptureFile(path).blocks(frames_per_block):
        if frames is not None and block.records["number"][0] > frames:
            break
        if frames is not None:
            block = FrameBlock(block.buf, block.records[block.records["number"] <= frames])
        events += sensor.process_block(block)
    return events + sensor.finish()
