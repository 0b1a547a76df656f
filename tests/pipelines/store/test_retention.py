"""Retention, part of the storage contract: old events go by whole UTC days, alerts stay.

Corpus days: 2015-10-22 (read … weird, and the alert) and 2015-10-23 (weird_v6).
"""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.store.base import Event, Store, StoreError
from tests.utils.events import at, modbus_event

FIRST_DAY = {"read", "read_reply", "write", "exception", "flow", "weird"}


def stored(store: Store, events: dict[str, Event]) -> set[str]:
    by_id = {event["event"]["id"]: name for name, event in events.items()}
    return {by_id[event["event"]["id"]] for event in store.search(size=100).data}


def test_drop_before_deletes_older_days_and_keeps_alerts(filled: Store,
                                                         events: dict[str, Event]) -> None:
    assert filled.drop_before("2015-10-23") == len(FIRST_DAY)
    assert stored(filled, events) == {"alert", "weird_v6"}
    assert filled.get(events["alert"]["event"]["id"]) == events["alert"]
    assert filled.get(events["read"]["event"]["id"]) is None


def test_drop_before_the_oldest_day_deletes_nothing(filled: Store,
                                                    events: dict[str, Event]) -> None:
    assert filled.drop_before("2015-10-22") == 0
    assert stored(filled, events) == set(events)


def test_dropped_days_take_new_events_again(filled: Store) -> None:
    filled.drop_before("2015-10-24")
    late = modbus_event(at(30), 16, transaction_id=77)
    assert filled.write([late]) == 1
    assert filled.search("modbus.transaction_id:77").count == 1


def test_retain_keeps_today_and_the_days_before(filled: Store, events: dict[str, Event]) -> None:
    assert filled.retain(1, today=date(2015, 10, 23)) == 0
    assert filled.retain(0, today=date(2015, 10, 23)) == len(FIRST_DAY)
    assert stored(filled, events) == {"alert", "weird_v6"}
    assert filled.retain(0, today=date(2015, 10, 24)) == 1
    assert stored(filled, events) == {"alert"}


def test_drop_before_on_an_empty_store(store: Store) -> None:
    assert store.drop_before("2030-01-01") == 0


@pytest.mark.parametrize("day", ["yesterday", "2015-13-01", ""])
def test_a_bad_day_is_a_store_error(filled: Store, day: str) -> None:
    with pytest.raises(StoreError, match="not a day"):
        filled.drop_before(day)


def test_negative_retention_is_refused(filled: Store) -> None:
    with pytest.raises(StoreError, match="0 days or more"):
        filled.retain(-1)
