"""Learning from normal traffic and scoring new traffic against it.

:class:`Trainer` is fed normal events (it has the detector shape, so a replay can feed it) and
returns an :class:`AnomalyModel`: the baseline and a :class:`WindowIsolationForest` over window
features. :class:`AnomalyDetector` runs a model over live or replayed events: it alerts on
violations of the baseline once a person has approved it, and on windows the model scores above
its threshold, each alert saying what was expected and what was seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection.alerts import anomaly_alert, violation_alert
from detection.base import Event, Placed, alerts_of
from detection.baseline import Baseline, BaselineLearner
from detection.features import (
    FEATURES,
    MIN_SCALES,
    OWN_FEATURES,
    Window,
    WindowBuilder,
    compared,
    window_features,
)
from detection.models import WindowIsolationForest

MAX_TRAINING_WINDOWS = 50_000
CALIBRATION_FOLDS = 5
MAX_REPORTED = 100_000
EXPLAINED_FEATURES = 3


@dataclass(slots=True)
class AnomalyModel:
    """A learned baseline and window model, with what they were learned from."""

    baseline: Baseline
    estimator: WindowIsolationForest
    training_windows: list[list[float]]
    pair_medians: dict[str, list[float]]
    window_seconds: float = 60.0
    training: dict[str, Any] = field(default_factory=dict)

    def row(self, window: Window) -> list[float]:
        """The window's full feature row, compared with its pair's learned medians."""
        own = window_features(window)
        return compared(own, self.pair_medians.get(_window_key(window)), self.window_seconds)

    def explain(self, window: Window, row: list[float]) -> dict[str, list[Any]]:
        """The features that pushed the score most, as parallel arrays: observed, the pair's
        learned median, and the distance between them in robust scales."""
        own_medians = self.pair_medians.get(_window_key(window))
        if own_medians is None:
            own_medians = self.estimator.median_[:len(OWN_FEATURES)].tolist()
        expected = [*own_medians, 0.0, 0.0]
        scale = self.estimator.scale_
        deviation = np.abs(np.asarray(row) - np.asarray(expected)) / scale
        top = np.argsort(-deviation, kind="stable")[:EXPLAINED_FEATURES]
        return {"name": [FEATURES[i] for i in top],
                "observed": [_rounded(row[i]) for i in top],
                "expected": [_rounded(expected[i]) for i in top],
                "deviation": [_rounded(deviation[i]) for i in top]}


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def _window_key(window: Window) -> str:
    return f"{window.pair} {window.dataset}"


class Trainer:
    """Collects normal events (in event-time order) and fits an :class:`AnomalyModel`.

    The window threshold is calibrated on :data:`CALIBRATION_FOLDS` periods of the training
    windows, each scored by a forest that did not learn it (see
    :class:`~detection.models.WindowIsolationForest`), so normal windows the model never saw
    stay below it as the training windows do.
    """

    def __init__(self, window_seconds: float = 60.0, random_state: int = 0,
                 threshold_quantile: float = 1.0) -> None:
        self.window_seconds = window_seconds
        self.random_state = random_state
        self.threshold_quantile = threshold_quantile
        self._learner = BaselineLearner()
        self._builder = WindowBuilder(window_seconds)
        self._windows: list[Window] = []

    def place(self, events: Sequence[Event]) -> list[Placed]:
        self._learner.learn(events)
        self._windows += [window for _, window in self._builder.add(events)]
        return []

    def process(self, events: Sequence[Event]) -> list[Event]:
        return alerts_of(self.place(events))

    def finish(self) -> list[Event]:
        """The end of one input: its last windows close, and the next input starts afresh
        (no interval spans the time between two captures)."""
        self._windows += self._builder.flush()
        self._builder = WindowBuilder(self.window_seconds)
        return []

    def fit(self) -> AnomalyModel:
        if not self._windows:
            raise ValueError("no events of a protocol the anomaly models know: nothing to learn")
        baseline = self._learner.baseline()
        keys, own = self._own_rows()
        medians = _medians(keys, own)
        rows = [[_rounded(v) for v in compared(r, medians[k], self.window_seconds)]
                for k, r in zip(keys, own, strict=True)]
        estimator = WindowIsolationForest(threshold_quantile=self.threshold_quantile,
                                          min_scale=list(MIN_SCALES),
                                          calibration_folds=CALIBRATION_FOLDS,
                                          random_state=self.random_state).fit(rows)
        training = {"start": baseline.start, "end": baseline.end, "windows": len(rows)}
        return AnomalyModel(baseline, estimator, rows, medians, self.window_seconds, training)

    def _own_rows(self) -> tuple[list[str], list[list[float]]]:
        windows = self._windows
        if len(windows) > MAX_TRAINING_WINDOWS:
            rng = np.random.default_rng(self.random_state)
            keep = np.sort(rng.choice(len(windows), MAX_TRAINING_WINDOWS, replace=False))
            windows = [windows[i] for i in keep]
        return [_window_key(w) for w in windows], [window_features(w) for w in windows]


def _medians(keys: list[str], rows: list[list[float]]) -> dict[str, list[float]]:
    matrix = np.asarray(rows)
    names = np.asarray(keys)
    return {key: [_rounded(v) for v in np.median(matrix[names == key], axis=0)]
            for key in sorted(set(keys))}


class AnomalyDetector:
    """The detector contract over an :class:`AnomalyModel`.

    Baseline violations are alerts only when the baseline is approved (``enforce_baseline``
    overrides that); each distinct violation is reported once. Window scores above the model's
    threshold are alerts whether or not the baseline is approved.
    """

    def __init__(self, model: AnomalyModel, enforce_baseline: bool | None = None,
                 model_name: str = "isolation_forest") -> None:
        self.model = model
        self.model_name = model_name
        self.enforce_baseline = (model.baseline.approved if enforce_baseline is None
                                 else enforce_baseline)
        self._builder = WindowBuilder(model.window_seconds)
        self._reported: set[tuple[str, ...]] = set()

    def place(self, events: Sequence[Event]) -> list[Placed]:
        """Baseline violations after the event that broke the baseline, anomalous windows
        after the event that closed them."""
        violations = self._violations(events) if self.enforce_baseline else []
        closed = self._builder.add(events)
        scored = self._score([window for _, window in closed])
        windows = [(index, alert) for (index, _), alert in zip(closed, scored, strict=True)
                   if alert is not None]
        return violations + windows

    def process(self, events: Sequence[Event]) -> list[Event]:
        return alerts_of(self.place(events))

    def finish(self) -> list[Event]:
        return [alert for alert in self._score(self._builder.flush()) if alert is not None]

    def _violations(self, events: Sequence[Event]) -> list[Placed]:
        alerts = []
        for index, event in enumerate(events):
            for violation in self.model.baseline.violations(event):
                key = (violation.kind, violation.reason)
                if key in self._reported or len(self._reported) >= MAX_REPORTED:
                    continue
                self._reported.add(key)
                alerts.append((index, violation_alert(event, violation)))
        return alerts

    def _score(self, windows: list[Window]) -> list[Event | None]:
        """For each window, its alert when the model scores it above the threshold."""
        if not windows:
            return []
        rows = [self.model.row(w) for w in windows]
        scores = self.model.estimator.anomaly_score(rows)
        threshold = self.model.estimator.threshold_
        return [anomaly_alert(w, float(s), threshold, self.model.explain(w, row),
                              self.model_name) if s > threshold else None
                for w, row, s in zip(windows, rows, scores, strict=True)]
