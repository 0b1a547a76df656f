"""``liaowang store prune`` on a real SQLite store filled by ``liaowang replay``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipelines.store import open_store
from tests.utils.pcaps import PCAPS

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
# Modbus traffic of 2013-10-16 (UTC) that raises an alert.
CAPTURE = PCAPS / "zeek__zeek" / "testing__btest__Traces__modbus__modbusSmall.pcap"


def liaowang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIAOWANG, *args], capture_output=True, text=True, timeout=180)


def test_prune_deletes_old_events_and_keeps_alerts(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'events.db'}"
    config = tmp_path / "liaowang.yml"
    config.write_text(f"pipelines: {{spool: {{path: '{tmp_path / 'spool'}'}}}}\n")
    assert liaowang("replay", str(CAPTURE), "--store", url, "--config", str(config)).returncode == 0
    with open_store(url) as store:
        events = store.search("event.kind:event").count
        alerts = store.search("event.kind:alert").count
    assert events > 20 and alerts >= 1
    kept = liaowang("store", "prune", "--store", url, "--before", "2000-01-01")
    assert kept.returncode == 0 and "0 events deleted" in kept.stderr
    done = liaowang("store", "prune", "--store", url, "--days", "30")
    assert done.returncode == 0, done.stderr
    assert f"{events} events deleted" in done.stderr
    with open_store(url) as store:
        assert store.search("event.kind:event").count == 0
        assert store.search("event.kind:alert").count == alerts


def test_prune_refuses_without_a_day_or_with_a_bad_one(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'events.db'}"
    nothing = liaowang("store", "prune", "--store", url)
    assert nothing.returncode == 2 and "--before DAY, --days N" in nothing.stderr
    bad = liaowang("store", "prune", "--store", url, "--before", "last week")
    assert bad.returncode == 2 and "'last week' is not a day" in bad.stderr
