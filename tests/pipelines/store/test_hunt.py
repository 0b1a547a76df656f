"""Retro-hunts on both stores: real S7comm captures stored, then hunted rule by rule.

What a hunt finds must be exactly what the live detector raised on the same events: the same
triggering events for a rule, the same evidence for a correlation; nothing more, nothing less.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from detection.sigma import SigmaDetector
from detection.sigma.loader import SHIPPED_RULES, load_pack, rule_key
from liaowang.config import RuleTuning
from pipelines.hunt import HuntError, find_rule, hunt, store_query, time_bound
from pipelines.store.base import Event, Store, TimeRange
from tests.utils.pcaps import PCAPS, run_sensor

CAPTURES = ("cisagov__icsnpp-s7comm/tests__traces__snap7.pcap",
            "ITI__ICS-Security-Tools/pcaps__s7__tia_s300_downloadHwConfig.pcapng",
            "ITI__ICS-Security-Tools/pcaps__s7__s7comm_reading_plc_status.pcap")
RULES = ("S7comm PLC stop request", "S7comm PLC control (PI service)",
         "S7comm program block download", "S7comm program block upload",
         "Malformed industrial protocol message", "Modbus write of multiple coils or registers")
CORRELATION = "S7 PLC stop after SZL enumeration"
ALL_TIME = TimeRange("2000-01-01T00:00:00.000000Z", None)


@pytest.fixture(scope="module")
def history() -> list[Event]:
    events: list[Event] = []
    for name in CAPTURES:
        events += run_sensor(PCAPS / name, strict=False)
    return events


@pytest.fixture(scope="module")
def live_alerts(history: list[Event]) -> dict[str, list[Event]]:
    """The alerts the live detector raises on the history, by rule title, none suppressed."""
    pack = load_pack([SHIPPED_RULES])
    unsuppressed = {rule_key(r): RuleTuning(suppress_s=0)
                    for r in [*pack.rules, *pack.correlations]}
    by_rule: dict[str, list[Event]] = defaultdict(list)
    for alert in SigmaDetector(pack, unsuppressed).process(history):
        by_rule[alert["rule"]["name"]].append(alert)
    return by_rule


@pytest.fixture
def stored(store: Store, history: list[Event]) -> Store:
    store.write(history)
    return store


def evidence(events: list[Event]) -> set[tuple[str, ...]]:
    return {tuple(e["evidence"]["event_ids"]) if e["event"]["kind"] == "alert"
            else (e["event"]["id"],) for e in events}


@pytest.mark.parametrize("title", RULES)
def test_a_hunt_finds_what_the_live_rule_raised(stored: Store, title: str,
                                                live_alerts: dict[str, list[Event]]) -> None:
    rule, pack = find_rule(title, [SHIPPED_RULES])
    result = hunt(stored, rule, pack, ALL_TIME, size=10_000)
    assert evidence(result.matches) == evidence(live_alerts.get(title, []))
    assert all(m["event"]["kind"] == "event" for m in result.matches)
    stamps = [m["@timestamp"] for m in result.matches]
    assert stamps == sorted(stamps, reverse=True), "newest first"


def test_the_store_narrows_the_history_down(stored: Store, history: list[Event]) -> None:
    rule, pack = find_rule("S7comm PLC stop request", [SHIPPED_RULES])
    result = hunt(stored, rule, pack, ALL_TIME)
    assert len(result.matches) == 2
    assert result.scanned == 2, "the query, not the predicate, did the filtering"
    assert "s7comm.function:41" in result.queries[0]


def test_a_correlation_is_hunted_over_the_events_of_its_rules(
        stored: Store, live_alerts: dict[str, list[Event]]) -> None:
    rule, pack = find_rule(CORRELATION, [SHIPPED_RULES])
    result = hunt(stored, rule, pack, ALL_TIME)
    assert len(result.matches) == 1
    assert evidence(result.matches) == evidence(live_alerts[CORRELATION])
    assert result.matches[0]["rule"]["name"] == CORRELATION
    assert len(result.queries) == 2  # one per rule it refers to


def test_the_time_range_and_size_bound_the_matches(stored: Store) -> None:
    rule, pack = find_rule("S7comm PLC control (PI service)", [SHIPPED_RULES])
    every = hunt(stored, rule, pack, ALL_TIME, size=10_000).matches
    assert len(every) > 3
    newest = hunt(stored, rule, pack, ALL_TIME, size=2).matches
    assert newest == every[:2]
    cut = every[len(every) // 2]["@timestamp"]
    before = hunt(stored, rule, pack, TimeRange(None, cut), size=10_000).matches
    assert before == [m for m in every if m["@timestamp"] < cut]
    assert hunt(stored, rule, pack, TimeRange("2030-01-01T00:00:00Z", None)).matches == []


def test_a_rule_the_backend_cannot_express_falls_back_to_its_dataset(tmp_path: Path) -> None:
    path = tmp_path / "odd.yml"
    path.write_text("""title: odd
id: 22222222-2222-4222-8222-222222222222
logsource: {product: liaowang, service: s7comm}
detection:
  sel: {s7comm.function|re: '^4[01]$'}
  other: {source.ip|cidr: 10.0.0.0/8}
  condition: sel and not other
""")
    rule, pack = find_rule(str(path), [SHIPPED_RULES])
    query = store_query(rule, pack)
    assert query.startswith("event.kind:event AND event.dataset:s7comm")


def test_unknown_rules_broken_rule_files_and_bad_times_are_refused(tmp_path: Path) -> None:
    with pytest.raises(HuntError, match="unknown rule 'no such rule'"):
        find_rule("no such rule", [SHIPPED_RULES])
    broken = tmp_path / "broken.yml"
    broken.write_text("title: x\nlogsource: {service: s7comm}\ndetection: {condition: sel}\n")
    with pytest.raises(HuntError, match=r"broken\.yml"):
        find_rule(str(broken), [SHIPPED_RULES])
    with pytest.raises(HuntError, match="bad time 'yesterday'"):
        time_bound("yesterday")
    assert time_bound("2024-02-03T04:05:06+01:00") == "2024-02-03T03:05:06.000000Z"


def hunt_cli(*args: str) -> Any:
    import subprocess
    import sys

    liaowang = str(Path(sys.executable).with_name("liaowang"))
    return subprocess.run([liaowang, "rules", "hunt", *args], capture_output=True, text=True,
                          timeout=120)


def test_the_command_lists_matches_and_refuses_bad_input(tmp_path: Path,
                                                         history: list[Event]) -> None:
    from pipelines.store import open_store

    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_store(url) as store:
        store.write(history)
    done = hunt_cli("S7comm PLC stop request", "--from", "2000-01-01", "--store", url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert all("s7comm.function=41" in line and "frame=" in line and " -> " in line
               for line in lines)
    assert "2 matches of 'S7comm PLC stop request'" in done.stderr
    as_json = hunt_cli(CORRELATION, "--from", "2000-01-01", "--store", url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert '"kind":"alert"' in as_json.stdout and len(as_json.stdout.splitlines()) == 1
    for args, reason in [
        (("no such rule", "--from", "1d", "--store", url), "unknown rule 'no such rule'"),
        (("S7comm PLC stop request", "--from", "soon", "--store", url), "bad time 'soon'"),
        (("S7comm PLC stop request", "--from", "1d", "--store", "sqlite:///nowhere/x.db"),
         "no store at"),
    ]:
        refused = hunt_cli(*args)
        assert refused.returncode == 2 and reason in refused.stderr, refused.stderr
        assert refused.stdout == ""
