"""``liaowang up``: the console comes up on the embedded store and shows live demo events."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_events(base: str, query: str, deadline: float) -> dict:
    while time.monotonic() < deadline:
        try:
            page = httpx.get(f"{base}/api/events", params={"q": query}, timeout=5).json()
            if page["count"]:
                return page
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no events matching {query!r} in time")


def test_up_serves_the_console_with_demo_events_within_60_seconds(tmp_path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path}/events.db"
    process = subprocess.Popen([LIAOWANG, "up", "--port", str(port), "--store", store],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path)   # its spool and pseudonym key stay there
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        page = wait_for_events(base, "event.dataset:modbus", deadline)
        event = page["data"][0]
        assert event["observer"]["name"]
        assert event["pcap"]["file"] == "demo.pcap"
        age_s = time.time() - time.mktime(time.strptime(event["@timestamp"][:19],
                                                        "%Y-%m-%dT%H:%M:%S")) + time.timezone
        assert abs(age_s) < 120, "demo events are re-timed to the present"
        assert "Liaowang" in httpx.get(base + "/", timeout=5).text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/" in stderr
