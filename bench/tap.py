"""A network tap to replay captures into: veth pairs in a network namespace of its own.

What tcpreplay sends on ``feeds[i]`` arrives on ``taps[i]``, where a sensor captures it. Run
everything that touches the veths inside the namespace (``Tap.command``), so no replayed
packet reaches the machine's own network. Deleting the namespace deletes its veths;
``open_tap`` does it whatever happens, and first removes namespaces left behind by runs that
were killed.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

SENT = re.compile(r"Successful packets:\s+(\d+)")


class TapError(Exception):
    """The machine cannot make the namespace or its veths."""


def unavailable() -> str | None:
    """Why no tap can be made here, or None."""
    if os.geteuid() != 0:
        return "needs root: a network namespace and veth pairs are created"
    if shutil.which("ip") is None:
        return "ip netns unavailable: iproute2 is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"ip netns unavailable: {probe.stderr.strip()}"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


@dataclass
class Tap:
    netns: str
    feeds: tuple[str, ...] = ("feed0", "feed1")
    taps: tuple[str, ...] = ("tap0", "tap1")

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the namespace."""
        return ["ip", "netns", "exec", self.netns, *args]

    def replay(self, pcap: Path, pps: int = 5000, feed: int = 0, timeout: float = 60,
               preload: bool = False, cpu: int | None = None) -> int:
        """Send a capture with tcpreplay at ``pps``; the number of packets it sent.
        ``preload`` reads the whole file into memory first, for rates the disk cannot feed;
        ``cpu`` pins tcpreplay to that CPU."""
        pinned = ["taskset", "-c", str(cpu)] if cpu is not None else []
        options = ["--preload-pcap"] if preload else []
        done = subprocess.run(self.command(*pinned, "tcpreplay", "-i", self.feeds[feed], "--pps",
                                           str(pps), *options, str(pcap)),
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise TapError(f"tcpreplay failed: {done.stderr.strip()}")
        sent = SENT.search(done.stdout)
        if not sent:
            raise TapError(f"tcpreplay said no packet count: {done.stdout}")
        return int(sent[1])

    def metrics(self, port: int) -> dict[str, float]:
        """The samples of the Prometheus endpoint on ``port`` inside the namespace,
        ``name{label="value"}`` -> value."""
        script = ("import sys, urllib.request; "
                  "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        done = subprocess.run(self.command(sys.executable, "-c", script,
                                           f"http://127.0.0.1:{port}/metrics"),
                              capture_output=True, text=True, timeout=30, check=True)
        return {_sample_key(s): s.value
                for family in text_string_to_metric_families(done.stdout)
                for s in family.samples}


def _sample_key(sample: Any) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}" if labels else sample.name


@dataclass
class SensorProcess:
    """``liaowang sensor`` running in the namespace; standard error is collected as it comes."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def cpu_seconds(self) -> float:
        """User and system CPU time the sensor has used so far (``ip netns exec`` and
        ``taskset`` exec it in the same process)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 30) -> str:
        """The first line from now on that holds ``text``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.stderr.append(line)
            if text in line:
                return line
        raise TapError(f"no {text!r} from the sensor: {''.join(self.stderr)}")

    def wait_capturing(self, timeout: float = 30) -> None:
        """Until the sensor says its sockets are bound (so nothing sent later is missed)."""
        self.wait_for_line("liaowang sensor: capturing on", timeout)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        """Signal it and wait: its exit code and all it wrote to standard error."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        while not self.lines.empty():
            self.stderr.append(self.lines.get())
        return code, "".join(self.stderr)

    def end(self) -> None:
        """Kill it if it still runs, and release the pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()


@contextmanager
def open_tap(prefix: str) -> Iterator[Tap]:
    """A fresh namespace named ``prefix<pid>-<random>`` with the veth pairs up."""
    _remove_stale_namespaces(prefix)
    tap = Tap(f"{prefix}{os.getpid()}-{secrets.token_hex(3)}")
    added = ip("netns", "add", tap.netns, check=False)
    if added.returncode != 0:
        raise TapError(f"network namespaces need root and CAP_NET_ADMIN: {added.stderr.strip()}")
    try:
        ip("netns", "exec", tap.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1")  # no router solicitations on the wire
        for feed, end in zip(tap.feeds, tap.taps, strict=True):
            ip("-n", tap.netns, "link", "add", feed, "type", "veth", "peer", "name", end)
            ip("-n", tap.netns, "link", "set", feed, "up")
            ip("-n", tap.netns, "link", "set", end, "up")
        ip("-n", tap.netns, "link", "set", "lo", "up")
        yield tap
    finally:
        ip("netns", "delete", tap.netns, check=False)
        if tap.netns in ip("netns", "list").stdout:
            raise TapError(f"namespace {tap.netns} was not deleted")


def _remove_stale_namespaces(prefix: str) -> None:
    """Namespaces of earlier runs whose process is gone (killed before cleaning up)."""
    for line in ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        pid = name.removeprefix(prefix).split("-")[0]
        if name.startswith(prefix) and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            ip("netns", "delete", name, check=False)
