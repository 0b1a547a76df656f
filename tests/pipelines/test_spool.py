"""The disk spool on real files, with the events of a real capture: order, restart, rollover and
deletion, the size bound and its alert, torn and corrupted records."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from liaowang.schema import validate
from pipelines.spool import FULL_RULE_ID, Spool, SpoolError, open_spool
from pipelines.store.sqlite import SQLiteStore
from tests.utils.pcaps import PCAPS, run_sensor

SMALL_MODBUS = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap"


@cache
def _capture_events() -> tuple[dict, ...]:
    return tuple(run_sensor(SMALL_MODBUS))


@pytest.fixture
def events() -> list[dict]:
    """The 51 events of a small Modbus capture (copies: tests may change them)."""
    return [dict(event) for event in _capture_events()]


def ids(events: list[dict]) -> list[str]:
    return [event["event"]["id"] for event in events]


def read_all(spool: Spool, batch_size: int = 1000) -> list[dict]:
    out = []
    while batch := spool.read(batch_size):
        out += batch.events
        spool.ack(batch)
    return out


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.seg"))


def test_events_come_back_in_order_and_unchanged(tmp_path, events) -> None:
    with Spool(tmp_path) as spool:
        assert spool.append(events[:20]) == 20 and spool.append(events[20:]) == 31
        assert spool.pending == 51
        first = spool.read(30)
        assert first is not None and len(first.events) == 30 and first.records == 30
        second = spool.read(30)
        assert second is not None and len(second.events) == 21
        assert spool.read(30) is None
        assert first.events + second.events == events
        spool.ack(first)
        assert spool.pending == 21
        spool.ack(second)
        assert spool.pending == 0 and spool.stats.acked == 51


def test_a_restart_replays_from_the_last_acknowledged_batch(tmp_path, events) -> None:
    with Spool(tmp_path) as spool:
        spool.append(events)
        spool.ack(spool.read(10))
        unacked = spool.read(10)
        assert ids(unacked.events) == ids(events[10:20])
    with Spool(tmp_path) as again:      # the batch read but not acknowledged comes back
        assert again.pending == 41
        assert ids(read_all(again)) == ids(events[10:])
    with Spool(tmp_path) as third:
        assert third.pending == 0 and third.read(10) is None


def test_replaying_an_unacknowledged_batch_stores_each_event_once(tmp_path, events) -> None:
    """At-least-once from the spool, idempotent writes in the store: exactly once."""
    store = SQLiteStore(tmp_path / "events.db")
    with Spool(tmp_path / "spool") as spool:
        spool.append(events)
        batch = spool.read(100)
        assert store.write(batch.events) == 51   # the store took it; then a crash, no ack
    with Spool(tmp_path / "spool") as spool:
        batch = spool.read(100)
        assert ids(batch.events) == ids(events)  # delivered a second time
        assert store.write(batch.events) == 51
        spool.ack(batch)
    assert store.search(size=1).count == 51
    assert sorted(e["event"]["id"] for e in _all(store)) == sorted(ids(events))
    store.close()


def _all(store: SQLiteStore) -> list[dict]:
    return store.search(size=1000).data


def test_segments_roll_over_and_are_deleted_once_acknowledged(tmp_path, events) -> None:
    with Spool(tmp_path, segment_bytes=4096, max_bytes=1 << 20) as spool:
        for start in range(0, 51, 5):
            spool.append(events[start:start + 5])
        files = segments(tmp_path)
        assert len(files) >= 4, "5-event batches of ~500-byte events fill 4 KiB segments"
        spool.ack(spool.read(25))
        left = segments(tmp_path)
        assert 0 < len(left) < len(files)
        assert left == files[len(files) - len(left):], "only the oldest segments are deleted"
        assert ids(read_all(spool)) == ids(events[25:])
        assert len(segments(tmp_path)) <= 1         # the open segment stays until closed
        assert spool.used_bytes == sum(p.stat().st_size for p in segments(tmp_path))
    assert segments(tmp_path) == []


def test_a_full_spool_counts_what_it_drops_and_raises_one_alert(tmp_path, events) -> None:
    with Spool(tmp_path, max_bytes=8192, observer="tap-7") as spool:
        accepted = spool.append(events)
        assert 0 < accepted < 51
        assert spool.stats.dropped == 51 - accepted
        assert spool.append(events[:5]) == 0
        assert spool.stats.dropped == 56 - accepted
        spooled = read_all(spool)
        alerts = [e for e in spooled if e["event"]["kind"] == "alert"]
        assert len(alerts) == 1, "one alert however many batches are refused"
        assert ids(spooled[:accepted]) == ids(events[:accepted])
        alert = alerts[0]
        assert alert["rule"]["id"] == FULL_RULE_ID
        assert alert["observer"]["name"] == "tap-7"
        assert validate(alert) == []
        # Drained: the next time it fills, it says so again.
        assert spool.append(events) < 51
        again = [e for e in read_all(spool) if e["event"]["kind"] == "alert"]
        assert len(again) == 1 and again[0]["event"]["id"] != alert["event"]["id"]


def test_a_torn_record_at_the_end_of_a_segment_is_skipped_and_reported(tmp_path, events) -> None:
    with Spool(tmp_path, observer="tap-1") as spool:
        spool.append(events)
    segment = segments(tmp_path)[-1]
    with segment.open("r+b") as handle:      # the last write only partly reached the disk
        handle.truncate(segment.stat().st_size - 7)
    with Spool(tmp_path, observer="tap-1") as spool:
        assert spool.pending == 50
        delivered = read_all(spool)
        assert ids(delivered[:50]) == ids(events[:50])
        weird = delivered[50]
        assert weird["weird"]["name"] == "spool_torn_record" and len(delivered) == 51
        assert validate(weird) == []
        assert spool.stats.corrupt == 1


def test_a_partial_header_after_a_crash_is_skipped(tmp_path, events) -> None:
    with Spool(tmp_path) as spool:
        spool.append(events)
    with segments(tmp_path)[-1].open("ab") as handle:
        handle.write(b"\xa7W\x10")
    with Spool(tmp_path) as spool:
        delivered = read_all(spool)
    assert ids(delivered[:51]) == ids(events)
    assert [e["weird"]["name"] for e in delivered[51:]] == ["spool_torn_record"]


def test_a_corrupted_record_is_replaced_by_a_weird_and_the_rest_delivered(tmp_path,
                                                                          events) -> None:
    with Spool(tmp_path) as spool:
        spool.append(events)
    segment = segments(tmp_path)[0]
    data = bytearray(segment.read_bytes())
    data[data.index(events[3]["event"]["id"].encode())] ^= 0xFF
    segment.write_bytes(bytes(data))
    with Spool(tmp_path) as spool:
        delivered = read_all(spool)
        assert spool.stats.corrupt == 1
    assert len(delivered) == 51
    assert delivered[3]["weird"]["name"] == "spool_corrupt_record"
    assert ids(delivered[:3] + delivered[4:]) == ids(events[:3] + events[4:])


def test_the_weird_of_a_replayed_tear_keeps_its_id(tmp_path, events) -> None:
    with Spool(tmp_path) as spool:
        spool.append(events[:3])
    with segments(tmp_path)[0].open("ab") as handle:
        handle.write(b"\xa7W")
    weird_ids = []
    for _ in range(2):                       # read, no ack, restart: the same weird again
        with Spool(tmp_path) as spool:
            weird_ids.append(spool.read(10).events[-1]["event"]["id"])
    assert weird_ids[0] == weird_ids[1]


def test_one_process_at_a_time_per_folder_and_lanes_for_the_others(tmp_path, events) -> None:
    with Spool(tmp_path / "0") as first:
        with pytest.raises(SpoolError, match="in use"):
            Spool(tmp_path / "0")
        with open_spool(tmp_path) as second:
            assert second.folder == tmp_path / "1"
        first.append(events[:2])
    with open_spool(tmp_path) as restarted:   # the lowest free lane: what was left in it
        assert restarted.folder == tmp_path / "0" and restarted.pending == 2
