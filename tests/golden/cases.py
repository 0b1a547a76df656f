"""Golden cases: a real capture, the events Liaowang makes of it, and where the capture is from.

Each case is a folder under ``tests/golden/`` holding ``capture.txt`` (the capture's path in the
public corpus, ``../shared/pcaps``, which is not copied: some captures may not be redistributed),
a ``README.md`` naming its source and licence, and ``expected.jsonl``: the analyzer and weird
events of the capture (flow events have their own tests), one per line with sorted keys. The
expected file is only ever written by ``python -m tests.golden.regen``, never by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.utils.pcaps import PCAPS, run_sensor

HERE = Path(__file__).parent
OBSERVER = "golden"


def case_dirs() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if (p / "README.md").exists())


def capture_of(case: Path) -> Path:
    return PCAPS / (case / "capture.txt").read_text().strip()


def golden_events(capture: Path) -> list[dict[str, Any]]:
    events = run_sensor(capture, observer=OBSERVER, strict=False)
    return [e for e in events if e["event"]["dataset"] != "flow"]


def as_lines(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(event, sort_keys=True, ensure_ascii=False) for event in events]
