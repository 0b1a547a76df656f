"""Fusion: risk scores (bounded, monotone in every input) and the folding of repeats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection.fusion import Fusion, risk_score
from liaowang.assets import Asset, AssetMap, Zone
from liaowang.events import iso_timestamp
from liaowang.schema import validate
from pipelines.enrich import EnrichedSinks
from pipelines.sinks.base import Sink

SEVERITY = st.integers(1, 4)
ANOMALY = st.none() | st.floats(0, 1)
CRITICALITY = st.none() | st.integers(1, 5)
T0 = 1_700_000_000_000_000


def alert(n: int, seconds: float = 0.0, rule: str = "r1", source: str = "10.0.0.1",
          destination: str = "10.0.0.2", severity: int = 2) -> dict:
    return {"@timestamp": iso_timestamp(T0 + int(seconds * 1e6)),
            "event": {"id": f"a{n}", "kind": "alert", "dataset": "weird", "severity": severity,
                      "reason": "test"},
            "observer": {"name": "tap"}, "rule": {"id": rule, "name": rule},
            "source": {"ip": source}, "destination": {"ip": destination},
            "weird": {"name": "test"}}


def event(seconds: float) -> dict:
    return {"@timestamp": iso_timestamp(T0 + int(seconds * 1e6)),
            "event": {"id": f"e{seconds}", "kind": "event", "dataset": "flow"},
            "observer": {"name": "tap"}}


@given(SEVERITY, ANOMALY, CRITICALITY, CRITICALITY)
def test_the_risk_score_stays_within_0_and_100(severity, anomaly, asset, zone) -> None:
    assert 0 < risk_score(severity, anomaly, asset, zone) <= 100


@given(st.integers(1, 3), ANOMALY, CRITICALITY, CRITICALITY)
def test_a_higher_severity_never_lowers_the_score(severity, anomaly, asset, zone) -> None:
    assert risk_score(severity + 1, anomaly, asset, zone) > risk_score(severity, anomaly, asset,
                                                                       zone)


@given(SEVERITY, st.floats(0, 1), st.floats(0, 1), CRITICALITY, CRITICALITY)
def test_a_surer_anomaly_never_lowers_the_score(severity, low, high, asset, zone) -> None:
    low, high = sorted((low, high))
    assert risk_score(severity, high, asset, zone) >= risk_score(severity, low, asset, zone)


@given(SEVERITY, ANOMALY, st.integers(1, 4), CRITICALITY)
def test_a_more_critical_asset_raises_the_score(severity, anomaly, asset, zone) -> None:
    assert risk_score(severity, anomaly, asset + 1, zone) > risk_score(severity, anomaly, asset,
                                                                       zone)


@given(SEVERITY, ANOMALY, CRITICALITY, st.integers(1, 4))
def test_a_more_critical_zone_raises_the_score(severity, anomaly, asset, zone) -> None:
    assert risk_score(severity, anomaly, asset, zone + 1) > risk_score(severity, anomaly, asset,
                                                                       zone)


def test_the_extremes_of_the_formula() -> None:
    assert risk_score(4, 1.0, 5, 5) == 100.0
    assert risk_score(1, None, 1, 1) == 12.5
    assert risk_score(2, 1.0) > risk_score(2, None)   # the model's sureness adds to severity


def test_the_score_comes_from_the_places_the_lookup_gives() -> None:
    places = AssetMap([Asset("plc", "10.0.0.2/32", 5, "plc", "cell"),
                       Asset("printer", "10.9.0.2/32", 1, None, "office")],
                      [Zone("cell", ("10.0.0.0/24",), "ot"), Zone("office", ("10.9.0.0/24",))])
    fusion = Fusion(places.lookup, window_s=0)
    to_plc, to_printer, elsewhere = fusion([alert(1), alert(2, destination="10.9.0.2"),
                                            alert(3, destination="192.0.2.7")])
    scores = [a["event"]["risk_score"] for a in (to_plc, to_printer, elsewhere)]
    assert scores[0] > scores[2] > scores[1]
    assert scores[0] == risk_score(2, None, 5, 5)


def test_an_anomaly_alert_scores_its_model_score() -> None:
    sure, unsure = alert(1), alert(2, source="10.0.0.3")
    sure["anomaly"], unsure["anomaly"] = {"score": 0.95}, {"score": 0.1}
    Fusion(window_s=0)([sure, unsure])
    assert sure["event"]["risk_score"] > unsure["event"]["risk_score"]


def test_repeats_within_the_window_are_held_and_counted_when_it_closes() -> None:
    fusion = Fusion(window_s=60)
    first = fusion([event(0), alert(1, 1), alert(2, 5), alert(3, 30)])
    assert [e["event"]["id"] for e in first] == ["e0", "a1"]
    other_pair = fusion([alert(4, 40, source="10.0.0.9")])
    assert [e["event"]["id"] for e in other_pair] == ["a4"]
    later = fusion([event(120)])   # event time passes the first window: it closes
    assert later[-1]["event"]["id"] == "e120"
    (summary,) = later[:-1]   # both windows closed; only the first had repeats to stand for
    assert summary["alert"] == {"repeat_count": 3, "repeat_of": "a1"}
    assert summary["event"]["start"] == iso_timestamp(T0 + 1_000_000)
    assert summary["event"]["end"] == iso_timestamp(T0 + 30_000_000)
    assert summary["event"]["id"] not in {"a1", "a2", "a3"}
    assert validate(summary) == []
    assert fusion.finish() == []


def stream() -> list[dict]:
    return [alert(1, 0), alert(2, 5), event(30), alert(3, 20, rule="r2"), event(3600),
            alert(4, 3599, rule="r2"), alert(5, 3600)]


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_held_repeats_go_out_before_what_closed_them_whatever_the_batches(size: int) -> None:
    fusion = Fusion(window_s=60)
    items = stream()
    out = [e for i in range(0, len(items), size) for e in fusion(items[i:i + size])]
    out += fusion.finish()
    assert [e["alert"].get("repeat_of", e["event"]["id"]) if "alert" in e else e["event"]["id"]
            for e in out] == ["a1", "e30", "a3", "a1", "e3600", "a4", "a5"]


def test_a_repeat_after_the_window_opens_a_new_one_and_goes_out() -> None:
    fusion = Fusion(window_s=10)
    out = fusion([alert(1, 0), alert(2, 5), alert(3, 11)])
    first, summary, new = out
    assert (first["event"]["id"], new["event"]["id"]) == ("a1", "a3")
    assert summary["alert"] == {"repeat_count": 2, "repeat_of": "a1"}


def test_an_alert_fused_upstream_is_scored_but_not_folded_again() -> None:
    fusion = Fusion(window_s=60)
    shipped = [alert(1), alert(2, 1)]
    shipped[1]["alert"] = {"repeat_count": 4, "repeat_of": "a1"}   # a sensor's summary
    shipped[0]["alert"] = {"repeat_count": 1}
    out = fusion(shipped)
    assert [a["alert"]["repeat_count"] for a in out] == [1, 4]
    assert all("risk_score" in a["event"] for a in out) and fusion.finish() == []


def test_other_rules_and_other_pairs_are_not_repeats() -> None:
    fusion = Fusion(window_s=60)
    out = fusion([alert(1), alert(2, rule="r2"), alert(3, source="10.0.0.5"),
                  alert(4, destination="10.0.0.5")])
    assert len(out) == 4


@pytest.mark.parametrize(("repeats", "passed", "dropped"), [("drop", 1, 2), ("keep", 3, 0)])
def test_repeats_can_be_dropped_or_kept(repeats, passed, dropped) -> None:
    fusion = Fusion(window_s=60, repeats=repeats)
    out = fusion([alert(1), alert(2, 1), alert(3, 2)]) + fusion.finish()
    assert len(out) == passed and fusion.dropped == dropped
    assert all(a["alert"] == {"repeat_count": 1} for a in out)


def test_the_end_of_the_input_closes_every_window() -> None:
    fusion = Fusion(window_s=3600)
    assert len(fusion([alert(1), alert(2, 1)])) == 1
    (summary,) = fusion.finish()
    assert summary["alert"]["repeat_count"] == 2


def test_windows_are_bounded() -> None:
    fusion = Fusion(window_s=3600, max_keys=10)
    fusion([alert(n, n, source=f"10.1.0.{n}") for n in range(50)])
    assert len(fusion._windows) <= 10


def test_events_pass_untouched() -> None:
    plain = event(0)
    assert Fusion()([plain]) == [plain] and "risk_score" not in plain["event"]


class Collected(Sink):
    def __init__(self) -> None:
        self.batches: list[list[dict]] = []

    def write(self, events) -> None:
        self.batches.append(list(events))


def test_held_repeats_reach_the_sinks_when_the_input_ends_through_the_later_steps() -> None:
    seen_by_later_step: list[str] = []

    def later_step(events: list[dict]) -> list[dict]:
        seen_by_later_step.extend(e["event"]["id"] for e in events)
        return events

    collected = Collected()
    sinks = EnrichedSinks([Fusion(window_s=600), later_step], [collected])
    sinks.write([alert(1), alert(2, 1), alert(3, 2)])
    assert [[e["event"]["id"] for e in batch] for batch in collected.batches] == [["a1"]]
    sinks.close()
    (summary,) = collected.batches[-1]
    assert summary["alert"]["repeat_count"] == 3
    assert seen_by_later_step[-1] == summary["event"]["id"]


def test_an_alert_from_another_time_is_no_repeat() -> None:
    fusion = Fusion(window_s=60)
    out = fusion([alert(1, 1000), alert(2, 0), alert(3, 995)])   # an older capture, then back
    assert [e["event"]["id"] for e in out if "repeat_of" not in e["alert"]] == ["a1", "a2", "a3"]


def test_a_repeat_slightly_before_the_first_is_counted_and_spanned() -> None:
    fusion = Fusion(window_s=60)
    fusion([alert(1, 10), alert(2, 8)])
    (summary,) = fusion.finish()
    assert summary["alert"]["repeat_count"] == 2
    assert summary["event"]["start"] == iso_timestamp(T0 + 8_000_000)
