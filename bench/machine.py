"""What the benchmark ran on: CPU, cores, memory, load, and the versions of the tools timed."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any


def machine_info(core: int) -> dict[str, Any]:
    cpu = _cpuinfo()
    return {
        "cpu_model": cpu.get("model name", platform.processor() or "unknown"),
        "cpu_mhz": cpu.get("cpu MHz"),
        "cores": os.cpu_count(),
        "pinned_core": core,
        "memory_gib": round(_mem_total_kib() / 2**20, 1),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    found = {name: _version(name) for name in ("liaowang", "dpkt", "numpy", "nfstream")}
    found["tshark"] = _tshark_version()
    found["liaowang-flows"] = found["liaowang"]
    return found


def _cpuinfo() -> dict[str, str]:
    """Fields of the first processor in /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _mem_total_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _tshark_version() -> str:
    try:
        done = subprocess.run(["tshark", "--version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    found = re.search(r"\d+\.\d+\.\d+", done.stdout)
    return found.group(0) if found else "unknown"
