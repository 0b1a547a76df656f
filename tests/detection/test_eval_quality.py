"""A quality floor on a small slice of the labelled Modbus dataset, for several seeds.

Training: the benign frames of four attack captures. Test: the first 4000 frames (about two
minutes) of the fifth, in which a new host scans a PLC's registers while the master goes on
polling all six. Every seed must pass on its own, so a lucky one cannot carry the others.
"""

from __future__ import annotations

import pytest

from bench.eval import PCAPS, Fold, run_fold, summarise
from bench.labelled import DATASET, LabelledCapture, load

SCAN = "characterization_modbus_6RTU_with_operate"
SLICE_FRAMES = 4000


@pytest.fixture(scope="module")
def split() -> tuple[LabelledCapture, list[LabelledCapture]]:
    captures = load(PCAPS / DATASET)
    test = next(c for c in captures if c.name == SCAN).head(SLICE_FRAMES)
    return test, [c for c in captures if c.name != SCAN]


@pytest.fixture(scope="module")
def events(split) -> dict[str, dict[str, list[dict]]]:
    test, training = split
    return {"benign": {c.name: c.events(benign_only=True) for c in training},
            "all": {test.name: test.events()}}


def fold(split, events, seed: int) -> Fold:
    test, training = split
    return run_fold(test, training, events, seed, gap_seconds=2.0, window_seconds=60.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_scan_is_found_and_the_polling_stays_quiet(split, events, seed):
    result = fold(split, events, seed)
    scores, window_model = summarise([result]), summarise([result], "anomaly")
    assert result.instances == 1
    assert scores.recall == 1.0 and scores.precision >= 0.95
    # The window model alone: the scanner's windows above the threshold, no polling window.
    assert window_model.recall == 1.0 and result.false_alerts("anomaly") == 0
    assert sum(result.window_labels) >= 2
    assert len(result.window_labels) - sum(result.window_labels) >= 12
    assert scores.auc is not None and scores.auc >= 0.95


def test_the_training_never_sees_a_malicious_frame(split, events):
    test, training = split
    for capture in training:
        frames = {e["pcap"]["frame"] for e in events["benign"][capture.name] if "pcap" in e}
        assert frames and not any(capture.malicious(f) for f in frames)
    assert any(test.malicious(e["pcap"]["frame"]) for e in events["all"][test.name])
