"""The detection stream (detectors, fusion, incidents) is the same wherever the batches are cut.

A live sensor cuts its input where ring blocks end, a replay every ``sensor.batch_size`` frames:
what the sinks receive must not depend on either. Real events of a capture with repeated alerts,
scan correlations and incidents, cut at random places.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection.base import detect
from detection.fusion import Fusion
from detection.incidents import IncidentCorrelator
from detection.sigma import SigmaDetector
from tests.utils.pcaps import PCAPS, run_sensor

Event = dict[str, Any]
CAPTURES = ("cisagov__icsnpp-bacnet/testing__traces__bacnet_example.pcap",   # host sweeps
            "zeek__zeek/testing__btest__Traces__dnp3__dnp3.pcap")            # repeats, 3 incidents


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return [event for name in CAPTURES for event in run_sensor(PCAPS / name)]


def stream(events: list[Event], cuts: list[int]) -> tuple[list[Event], dict[str, Event]]:
    """What the sinks receive, and the last version of each incident, with batches ending at
    ``cuts``."""
    detector, fusion, incidents = SigmaDetector.load(), Fusion(window_s=60), IncidentCorrelator()
    received: list[Event] = []
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        received += incidents(fusion(detect([detector], events[start:end])))
    received += incidents(fusion(detector.finish()) + fusion.finish())
    received += incidents.finish()
    latest = {e["event"]["id"]: e for e in received if e["event"]["kind"] == "signal"}
    return [e for e in received if e["event"]["kind"] != "signal"], latest


@pytest.fixture(scope="module")
def whole(events: list[Event]) -> tuple[list[Event], dict[str, Event]]:
    return stream(events, [])


def test_the_captures_make_what_the_property_is_about(whole) -> None:
    alerts, incidents = [e for e in whole[0] if e["event"]["kind"] == "alert"], whole[1]
    assert any(a["alert"]["repeat_count"] > 1 for a in alerts)         # fusion folded repeats
    assert any(a["rule"]["name"] == "Host sweep" for a in alerts)       # a correlation
    assert len(incidents) >= 2


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_cuts_give_the_same_stream_and_incidents(events, whole, data) -> None:
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(events) - 1), max_size=40))))
    assert stream(events, cuts) == whole
