"""Reading captures with tshark in tests: one row of fields per packet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def tshark_rows(path: Path, *fields: str, display_filter: str = "") -> list[tuple[str, ...]]:
    """``fields`` of every packet of ``path`` (matching ``display_filter``), as tshark reads
    them; skips the test when tshark is not installed."""
    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed")
    command = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    if display_filter:
        command += ["-Y", display_filter]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return [tuple(line.split("\t")) for line in done.stdout.splitlines()]
