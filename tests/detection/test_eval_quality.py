"""A quality floor on small slices of the labelled Modbus dataset, for several seeds.

Training: the benign frames of four attack captures. Test: the first 4000 frames (about two
minutes) of the fifth, in which a new host scans a PLC's registers while the master goes on
polling all six; and the first 5000 frames of another, in which the HMI looks up the master's
name by NetBIOS (benign here, labelled malicious in a training capture, so never learned) before
a new host sends a fake command. Every seed must pass on its own, so a lucky one cannot carry
the others.
"""

from __future__ import annotations

import pytest

from bench.eval import PCAPS, Fold, run_fold, summarise
from bench.labelled import DATASET, LabelledCapture, load

SCAN = "characterization_modbus_6RTU_with_operate"
SLICE_FRAMES = 4000
FAKE_COMMAND = "send_a_fake_command_modbus_6RTU_with_operate"
FAKE_COMMAND_FRAMES = 5000
NAME_LOOKUP_FRAMES = range(1817, 1853)  # NBNS query and answer, SMB browse, announcement


def held_out(name: str, frames: int) -> tuple[LabelledCapture, list[LabelledCapture]]:
    """The first ``frames`` frames of capture ``name`` to test on, the others to train on."""
    captures = load(PCAPS / DATASET)
    test = next(c for c in captures if c.name == name).head(frames)
    return test, [c for c in captures if c.name != name]


def events_of(split: tuple[LabelledCapture, list[LabelledCapture]]
              ) -> dict[str, dict[str, list[dict]]]:
    test, training = split
    return {"benign": {c.name: c.events(benign_only=True) for c in training},
            "all": {test.name: test.events()}}


@pytest.fixture(scope="module")
def split() -> tuple[LabelledCapture, list[LabelledCapture]]:
    return held_out(SCAN, SLICE_FRAMES)


@pytest.fixture(scope="module")
def events(split) -> dict[str, dict[str, list[dict]]]:
    return events_of(split)


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


@pytest.fixture(scope="module")
def fake_command_split() -> tuple[LabelledCapture, list[LabelledCapture]]:
    return held_out(FAKE_COMMAND, FAKE_COMMAND_FRAMES)


@pytest.fixture(scope="module")
def fake_command_events(fake_command_split) -> dict[str, dict[str, list[dict]]]:
    return events_of(fake_command_split)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_hmis_name_lookup_stays_quiet_and_the_fake_command_is_found(
        fake_command_split, fake_command_events, seed):
    test, _ = fake_command_split
    lookup = [e for e in fake_command_events["all"][test.name]
              if e["event"]["dataset"] == "flow" and e["pcap"]["frame"] in NAME_LOOKUP_FRAMES]
    assert {e["destination"]["port"] for e in lookup} >= {137, 138, 139}
    assert not any(test.malicious(f) for f in NAME_LOOKUP_FRAMES)
    result = run_fold(test, fake_command_split[1], fake_command_events, seed, gap_seconds=2.0,
                      window_seconds=60.0)
    assert result.instances == 1 and result.detected() == 1
    assert result.false_alerts() == 0
