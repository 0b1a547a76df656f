"""Real peers on the loopback interface: free ports, and dumpcap capturing their exchange."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

QUIET_S = 0.5      # a capture file that has not grown for this long holds what was sent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], object], what: str | Callable[[], str],
             timeout: float = 10.0) -> None:
    """Wait until ``condition()``; ``what`` (a text, or a callable giving one) says what failed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what() if callable(what) else what)
        time.sleep(0.05)


@contextmanager
def loopback_capture(path: Path, port: int) -> Iterator[None]:
    """Capture ``tcp port`` on the loopback interface into ``path`` while the block runs.

    On leaving, dumpcap is given time to write what the kernel still holds (the file stops
    growing) and is then stopped, so the file is whole when the block's caller reads it.
    """
    dumpcap = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {port}",
                                "-w", str(path)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: dumpcap.poll() is not None or (path.exists() and path.stat().st_size),
                 "dumpcap did not start")
        assert dumpcap.poll() is None, f"dumpcap failed: {dumpcap.stderr.read()}"
        yield
        _wait_until_quiet(path)
    finally:
        dumpcap.send_signal(signal.SIGINT)
        dumpcap.wait(timeout=10)


def _wait_until_quiet(path: Path, timeout: float = 10.0) -> None:
    deadline, size, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        now = path.stat().st_size
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_S:
            return
        time.sleep(0.05)
