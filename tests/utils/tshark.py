"""Reading captures with tshark in tests: one row of fields per packet."""

from __future__ import annotations

import subprocess
from pathlib import Path


def tshark_rows(path: Path, *fields: str, display_filter: str = "") -> list[tuple[str, ...]]:
    """``fields`` of every packet of ``path`` (matching ``display_filter``), as tshark reads
    them (`make test` installs tshark)."""
    command = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    if display_filter:
        command += ["-Y", display_filter]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return [tuple(line.split("\t")) for line in done.stdout.splitlines()]
