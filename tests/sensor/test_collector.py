"""The cyclic collector is paused for a batch and takes in the batch's cycles afterwards."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from sensor.collector import collector_paused


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def make_cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def collector_on() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_a_cycle_made_in_a_paused_batch_is_collected_after_it() -> None:
    with collector_paused():
        cycle = make_cycle()
        kept = [[] for _ in range(5_000)]    # allocations that would have set the collector off
        assert cycle() is not None and not gc.isenabled()
    del kept
    for _ in range(5):              # its next automatic run, set off by allocations
        [[] for _ in range(1_000)]
        if cycle() is None:
            break
    assert cycle() is None


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_on_again_when_the_batch_raises() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("bad batch")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    was_on = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was_on:
            gc.enable()
