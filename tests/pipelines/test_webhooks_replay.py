"""End to end: ``liaowang replay`` of a real attack capture with a webhook configured, the
receiver refusing its first attempts, or not listening at all until a later run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.pipelines.webhook_receiver import Receiver
from tests.utils.loopback import free_port
from tests.utils.pcaps import PCAPS

S7_STOP = PCAPS / "ITI__ICS-Security-Tools/pcaps__s7__step7_s300_stop.pcapng"
LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
SECRET = "replay-secret"


def configure(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "liaowang.yml"
    config.write_text(f"""\
pipelines:
  spool: {{path: {tmp_path / 'spool'}}}
webhooks:
  - name: soc
    url: {url}
    format: generic
    secret: {SECRET}
    min_severity: 3
    retry_first_s: 0.2
""")
    return config


def replay(config: Path, jsonl: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIAOWANG, "replay", str(S7_STOP), "--jsonl", str(jsonl), "--config",
                           str(config), *options], capture_output=True, text=True, timeout=120)


def alerts_in(jsonl: Path) -> list[dict]:
    events = [orjson.loads(line) for line in jsonl.read_bytes().splitlines()]
    return [event for event in events if event["event"]["kind"] == "alert"]


def test_the_alert_of_a_replayed_attack_reaches_a_receiver_that_refused_first(
        tmp_path) -> None:
    with Receiver(secret=SECRET, refuse=2) as receiver:
        done = replay(configure(tmp_path, receiver.url), tmp_path / "events.jsonl")
    assert done.returncode == 0, done.stderr
    [alert] = alerts_in(tmp_path / "events.jsonl")
    assert alert["rule"]["name"] == "S7comm PLC stop request"
    assert [r.status for r in receiver.received] == [503, 503, 200]
    assert all(r.signature_ok for r in receiver.received)
    assert receiver.keys() == [f"{alert['event']['id']}:soc"]
    assert receiver.accepted[0].json() == alert
    assert ("webhook soc: delivered=1 messages=1 digests=0 dead=0 attempts=3 repeats=0 left=0"
            in done.stderr.splitlines())


def test_an_alert_left_queued_by_one_run_is_delivered_once_by_the_next(tmp_path) -> None:
    port = free_port()
    config = configure(tmp_path, f"http://127.0.0.1:{port}/hook")
    first = replay(config, tmp_path / "first.jsonl", "--flush-timeout", "1")
    assert first.returncode == 1
    assert "left=1 (they wait in" in first.stderr and "ConnectError" in first.stderr
    with Receiver(secret=SECRET, port=port) as receiver:
        second = replay(config, tmp_path / "second.jsonl")
    assert second.returncode == 0, second.stderr
    [alert] = alerts_in(tmp_path / "second.jsonl")
    assert alerts_in(tmp_path / "first.jsonl") == [alert]
    assert receiver.keys() == [f"{alert['event']['id']}:soc"]
    assert receiver.accepted[0].signature_ok
    assert "delivered=1 messages=1 digests=0 dead=0 attempts=1 repeats=1 left=0" in second.stderr
