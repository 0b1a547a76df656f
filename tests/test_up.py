"""``liaowang up``: the console comes up on the embedded store, prints how to log in on first
run, and shows live demo events to the admin who logs in."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx

from tests.utils.loopback import free_port

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))


def read_lines(stream: IO[str], lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line)


def first_password(lines: list[str], deadline: float) -> str:
    while time.monotonic() < deadline:
        for line in list(lines):
            if match := re.search(r"as admin with password (\S+)", line):
                return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no first-run login printed: {''.join(lines)}")


def log_in(base: str, password: str, deadline: float) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=5)
    while time.monotonic() < deadline:
        try:
            answer = client.post("/api/auth/login",
                                 json={"username": "admin", "password": password})
            assert answer.status_code == 200, answer.text
            return client
        except httpx.TransportError:
            time.sleep(0.5)
    raise AssertionError("the console did not answer in time")


def wait_for_events(client: httpx.Client, query: str, deadline: float) -> dict:
    while time.monotonic() < deadline:
        page = client.get("/api/events", params={"q": query}).json()
        if page["count"]:
            return page
        time.sleep(0.5)
    raise AssertionError(f"no events matching {query!r} in time")


def test_up_serves_the_console_with_demo_events_within_60_seconds(tmp_path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path}/events.db"
    process = subprocess.Popen([LIAOWANG, "up", "--port", str(port), "--store", store],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path)   # its spool and pseudonym key stay there
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    reader = threading.Thread(target=read_lines, args=(process.stderr, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        client = log_in(base, first_password(lines, deadline), deadline)
        assert httpx.get(f"{base}/api/events", timeout=5).status_code == 401
        page = wait_for_events(client, "event.dataset:modbus", deadline)
        event = page["data"][0]
        assert event["observer"]["name"]
        assert event["pcap"]["file"] == "demo.pcap"
        age_s = time.time() - time.mktime(time.strptime(event["@timestamp"][:19],
                                                        "%Y-%m-%dT%H:%M:%S")) + time.timezone
        assert abs(age_s) < 120, "demo events are re-timed to the present"
        assert "Liaowang" in httpx.get(base + "/", timeout=5).text
        # the demo's diagnostics requests come some way into its loop
        alert = wait_for_events(client, "event.kind:alert", time.monotonic() + 120)["data"][0]
        assert alert["rule"]["id"] and alert["pcap"]["file"] == "demo.pcap"
        packets = client.get(f"/api/alerts/{alert['event']['id']}/pcap")   # from the buffer
        assert packets.status_code == 200, packets.text
        assert packets.content[:4] == b"\x4d\x3c\xb2\xa1"      # a pcap, nanosecond times
        assert int(packets.headers["x-liaowang-packets"]) >= 1
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=5)
    stderr = "".join(lines)
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/" in stderr
