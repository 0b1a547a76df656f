"""Anomaly evaluation on the labelled Modbus dataset: ``make eval``.

Leave one capture out: for each attack capture, a model is trained (baseline, window model, its
threshold) on the *benign frames of the other captures only*, its baseline is taken as
approved, and the held-out capture is replayed through it. Nothing of a test capture — neither
its attacks nor its benign traffic — is seen in training, and the threshold comes from the
training windows.

Reported, over all held-out captures:

- precision: the share of alerts that fall in an attack instance: one of the alert's evidence
  frames is a malicious frame of the instance, or the alert names a connection that carried one
  (a flow is reported once, from its first frame: the handshake may be labelled benign, and a
  shell that stays open carries later instances);
- recall: the share of attack instances with at least one alert;
- F1 of the two;
- ROC AUC of ``anomaly.score`` over every window the model scored (a window is positive when one
  of its events is on a malicious frame);
- false alerts per hour of benign traffic (capture time outside the attack instances).

    python -m bench.eval [--dataset DIR] [--seeds 0 1 2] [--gap SECONDS] [--window SECONDS]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.labelled import (
    DATASET,
    Connection,
    Event,
    Instance,
    LabelledCapture,
    connection,
    load,
)
from detection.anomaly import AnomalyDetector, AnomalyModel, Trainer
from detection.baseline import pair_key
from detection.features import WindowBuilder
from detection.operations import client_server, view_of
from liaowang.events import get_field, parse_timestamp

ROOT = Path(__file__).resolve().parents[1]
PCAPS = Path(os.environ.get("LIAOWANG_PCAPS", ROOT.parent / "shared" / "pcaps"))
BATCH = 4096
GAP_SECONDS = 2.0


@dataclass(slots=True)
class Fold:
    """What replaying one held-out capture through a model of the others gave."""

    capture: str
    instances: int
    benign_seconds: float
    hits: list[set[int]]  # per alert, the instances it falls in
    rulesets: list[str]   # per alert: baseline or anomaly
    window_scores: list[float] = field(default_factory=list)
    window_labels: list[int] = field(default_factory=list)

    def only(self, ruleset: str | None) -> list[set[int]]:
        """The hits of the alerts of one ruleset (None: all)."""
        return [h for h, r in zip(self.hits, self.rulesets, strict=True)
                if ruleset is None or r == ruleset]

    def detected(self, ruleset: str | None = None) -> int:
        return len(set().union(*self.only(ruleset)))

    def false_alerts(self, ruleset: str | None = None) -> int:
        return sum(1 for h in self.only(ruleset) if not h)


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    auc: float | None
    false_per_hour: float


def train(captures: Sequence[LabelledCapture], events: dict[str, list[Event]],
          seed: int, window_seconds: float) -> AnomalyModel:
    """A model of the benign frames of ``captures`` (in time order)."""
    trainer = Trainer(window_seconds, seed)
    for capture in captures:
        trainer.process(events[capture.name])
        trainer.finish()
    return trainer.fit()


def detect(model: AnomalyModel, events: list[Event]) -> list[Event]:
    """Alerts of an approved-baseline detector over ``events``, in replay-sized batches."""
    detector = AnomalyDetector(model, enforce_baseline=True)
    alerts = [a for i in range(0, len(events), BATCH)
              for a in detector.process(events[i:i + BATCH])]
    return alerts + detector.finish()


def alert_frames(alert: Event) -> set[int]:
    frames = get_field(alert, "evidence.frames") or []
    frame = get_field(alert, "pcap.frame")
    return set(frames) | ({frame} if frame is not None else set())


def matched(alert: Event, instances: list[Instance]) -> set[int]:
    """The instances an alert falls in."""
    frames, connection = alert_frames(alert), connection_of(alert)
    return {i for i, instance in enumerate(instances)
            if frames & instance.frames or connection in instance.connections}


def connection_of(alert: Event) -> Connection | None:
    ends = [(get_field(alert, f"{side}.ip"), get_field(alert, f"{side}.port"))
            for side in ("source", "destination")]
    transport = get_field(alert, "network.transport")
    if transport is None or any(ip is None or port is None for ip, port in ends):
        return None
    return connection(transport, *ends)


def window_labels(capture: LabelledCapture, events: list[Event],
                  window_seconds: float) -> set[tuple[str, str, int]]:
    """The (pair, dataset, window start) of every window holding a malicious frame."""
    length = int(window_seconds * 1_000_000)
    positive = set()
    for event in events:
        view, ends = view_of(event), client_server(event)
        frame = get_field(event, "pcap.frame")
        if view is None or ends is None or not view.windowed or frame is None:
            continue
        if capture.malicious(frame):
            ts = parse_timestamp(event["@timestamp"])
            positive.add((pair_key(*ends), event["event"]["dataset"], ts - ts % length))
    return positive


def score_windows(model: AnomalyModel, events: list[Event],
                  positive: set[tuple[str, str, int]]) -> tuple[list[float], list[int]]:
    builder = WindowBuilder(model.window_seconds)
    windows = [window for _, window in builder.add(events)] + builder.flush()
    if not windows:
        return [], []
    scores = model.estimator.anomaly_score([model.row(w) for w in windows])
    labels = [int((w.pair, w.dataset, w.start_us) in positive) for w in windows]
    return [float(s) for s in scores], labels


def run_fold(test: LabelledCapture, training: Sequence[LabelledCapture],
             events: dict[str, dict[str, list[Event]]], seed: int, gap_seconds: float,
             window_seconds: float) -> Fold:
    model = train(training, events["benign"], seed, window_seconds)
    test_events = events["all"][test.name]
    instances = test.instances(gap_seconds)
    alerts = detect(model, test_events)
    hits = [matched(a, instances) for a in alerts]
    attack_seconds = sum((i.end_ns - i.start_ns) / 1e9 for i in instances)
    scores, labels = score_windows(model, test_events,
                                   window_labels(test, test_events, window_seconds))
    return Fold(test.name, len(instances), test.seconds - attack_seconds, hits,
                [a["rule"]["ruleset"] for a in alerts], scores, labels)


def summarise(folds: Sequence[Fold], ruleset: str | None = None) -> Scores:
    """The scores of all alerts, or of one ruleset's (``anomaly``: the window model alone)."""
    alerts = sum(len(f.only(ruleset)) for f in folds)
    false = sum(f.false_alerts(ruleset) for f in folds)
    precision = (alerts - false) / alerts if alerts else 0.0
    recall = sum(f.detected(ruleset) for f in folds) / max(1, sum(f.instances for f in folds))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    labels = [y for f in folds for y in f.window_labels]
    scores = [s for f in folds for s in f.window_scores]
    auc = float(roc_auc_score(labels, scores)) if 0 < sum(labels) < len(labels) else None
    hours = sum(f.benign_seconds for f in folds) / 3600
    return Scores(precision, recall, f1, auc, false / hours if hours else 0.0)


def evaluate(captures: Sequence[LabelledCapture], seed: int = 0,
             gap_seconds: float = GAP_SECONDS, window_seconds: float = 60.0,
             events: dict[str, dict[str, list[Event]]] | None = None) -> list[Fold]:
    """Leave-one-capture-out folds over ``captures``."""
    events = events or replay_all(captures)
    return [run_fold(test, [c for c in captures if c is not test], events, seed, gap_seconds,
                     window_seconds) for test in captures]


def replay_all(captures: Sequence[LabelledCapture]) -> dict[str, dict[str, list[Event]]]:
    """Each capture through the sensor once whole and once as its benign frames only."""
    return {"all": {c.name: c.events() for c in captures},
            "benign": {c.name: c.events(benign_only=True) for c in captures}}


def table(folds: Sequence[Fold]) -> str:
    rows = [f"{'held-out capture':<48} {'inst':>4} {'found':>5} {'alerts':>6} {'false':>5} "
            f"{'benign min':>10}"]
    rows += [f"{f.capture:<48} {f.instances:>4} {f.detected():>5} {len(f.hits):>6} "
             f"{f.false_alerts():>5} {f.benign_seconds / 60:>10.1f}" for f in folds]
    return "\n".join(rows)


def score_line(label: str, scores: Scores) -> str:
    auc = "n/a" if scores.auc is None else f"{scores.auc:.3f}"
    return (f"{label}: precision {scores.precision:.3f}  recall {scores.recall:.3f}  "
            f"F1 {scores.f1:.3f}  window ROC AUC {auc}  "
            f"false alerts/hour {scores.false_per_hour:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=PCAPS / DATASET)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--gap", type=float, default=GAP_SECONDS,
                        help="seconds between malicious frames that still make one instance")
    parser.add_argument("--window", type=float, default=60.0, help="window length, seconds")
    args = parser.parse_args(argv)
    captures = load(args.dataset)
    events = replay_all(captures)
    results = {seed: evaluate(captures, seed, args.gap, args.window, events)
               for seed in args.seeds}
    print(table(results[args.seeds[0]]))
    for seed, folds in results.items():
        print(score_line(f"seed {seed}, all alerts      ", summarise(folds)))
        print(score_line(f"seed {seed}, window model only", summarise(folds, "anomaly")))
    f1 = np.asarray([summarise(folds).f1 for folds in results.values()])
    print(f"F1 over {len(f1)} seeds: mean {f1.mean():.3f}, min {f1.min():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
