"""Anomaly models over window features, following the scikit-learn estimator contract.

Score direction is declared once, here: scikit-learn's ``score_samples`` is *lower* = more
abnormal; Liaowang's ``anomaly.score`` is *higher* = more anomalous, in [0, 1].
:func:`to_anomaly_score` is the one place that converts.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> normal = rng.normal(10, 1, size=(200, 2))
>>> model = WindowIsolationForest(random_state=0).fit(normal)
>>> bool(model.anomaly_score([[10, 10]])[0] <= model.threshold_)
True
>>> model.predict([[10, 10], [60, -40]]).tolist()
[1, -1]
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

# IsolationForest cannot score a point beyond the hull of its training data higher than the
# training points at that edge (its path lengths saturate there), so a window far outside every
# learned range also scores by how many robust scales it lies beyond that range: 0.5 at this many.
BEYOND_RANGE_SCALES = 3.0


def to_anomaly_score(score_samples: NDArray[np.float64]) -> NDArray[np.float64]:
    """scikit-learn's IsolationForest ``score_samples`` (minus the paper's anomaly score, in
    [-1, 0)) as ``anomaly.score``: in [0, 1], higher = more anomalous."""
    return np.clip(-np.asarray(score_samples, dtype=float), 0.0, 1.0)


class WindowIsolationForest(OutlierMixin, BaseEstimator):
    """IsolationForest with a threshold learned from its own training scores, robust per-feature
    statistics to explain a score, and a guard beyond the learned ranges.

    ``threshold_quantile``: the quantile of the training scores above which a window is an
    anomaly (1.0: above every training window, so the training traffic itself stays quiet).

    ``calibration_folds``: when set, the threshold is also taken over *out-of-fold* scores. A
    forest scores the windows it learned from lower than new windows of the same traffic, so a
    threshold at the highest in-sample score sits too low, and unseen normal windows cross it
    (with a few hundred training windows, about one window in a few hundred). The training rows
    are cut into this many contiguous blocks (periods of time, as the trainer keeps them in
    order); each block is scored by a forest fitted on the others, and the threshold is the
    higher of the in-sample and the out-of-fold quantile. Fewer than two rows per block: no
    calibration.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "threshold_quantile": [Interval(Real, 0, 1, closed="right")],
        "min_scale": ["array-like", Interval(Real, 0, None, closed="neither")],
        "calibration_folds": [None, Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_estimators: int = 100, max_samples: int | str = "auto",
                 threshold_quantile: float = 1.0, min_scale: ArrayLike | float = 1e-3,
                 calibration_folds: int | None = None, random_state: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.threshold_quantile = threshold_quantile
        self.min_scale = min_scale
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None) -> WindowIsolationForest:
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators,
                                       max_samples=self.max_samples,
                                       random_state=self.random_state).fit(X)
        self.median_ = np.median(X, axis=0)
        self.scale_ = _robust_scale(X, self.min_scale)
        self.min_, self.max_ = X.min(axis=0), X.max(axis=0)
        training = self._scores(X)
        self.threshold_ = float(np.quantile(training, self.threshold_quantile))
        out_of_fold = self._out_of_fold_scores(X)
        if out_of_fold.size:
            self.threshold_ = max(self.threshold_,
                                  float(np.quantile(out_of_fold, self.threshold_quantile)))
        self.offset_ = -self.threshold_  # decision_function = score_samples - offset_
        return self

    def _out_of_fold_scores(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each contiguous block of ``X`` scored by a forest fitted on the other blocks."""
        folds = self.calibration_folds
        if folds is None or len(X) < 2 * folds:
            return np.empty(0)
        blocks = np.array_split(np.arange(len(X)), folds)
        return np.concatenate([self._held_out(X, block).anomaly_score(X[block])
                               for block in blocks])

    def _held_out(self, X: NDArray[np.float64], block: NDArray[np.intp]) -> WindowIsolationForest:
        rest = np.delete(X, block, axis=0)
        return WindowIsolationForest(self.n_estimators, self.max_samples, self.threshold_quantile,
                                     self.min_scale, random_state=self.random_state).fit(rest)

    def score_samples(self, X: ArrayLike) -> NDArray[np.float64]:
        """scikit-learn's convention: lower = more abnormal."""
        return -self.anomaly_score(X)

    def anomaly_score(self, X: ArrayLike) -> NDArray[np.float64]:
        """``anomaly.score`` of each row: in [0, 1], higher = more anomalous."""
        check_is_fitted(self)
        return self._scores(validate_data(self, X, dtype=np.float64, reset=False))

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Negative for anomalies (scikit-learn's outlier convention)."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: ArrayLike) -> NDArray[np.int64]:
        """-1 for anomalies, 1 for normal windows."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def deviations(self, X: ArrayLike) -> NDArray[np.float64]:
        """Per feature, how many robust scales each row lies from the learned median."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.abs(X - self.median_) / self.scale_

    def _scores(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        forest = to_anomaly_score(self.forest_.score_samples(X))
        return np.maximum(forest, self._beyond_range(X))

    def _beyond_range(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """From 0 (inside every learned range) towards 1, reaching 0.5 at
        :data:`BEYOND_RANGE_SCALES` robust scales beyond the farthest range."""
        above = np.maximum(X - self.max_, 0.0)
        below = np.maximum(self.min_ - X, 0.0)
        scales = ((above + below) / self.scale_).max(axis=1)
        return scales / (scales + BEYOND_RANGE_SCALES)


def _robust_scale(X: NDArray[np.float64], min_scale: ArrayLike | float) -> NDArray[np.float64]:
    """Per feature, the interquartile range, but at least a tenth of the median and at least
    ``min_scale``: a feature that never varied in training still has a sensible scale."""
    q75, q25 = np.quantile(X, [0.75, 0.25], axis=0)
    floor = np.maximum(np.abs(np.median(X, axis=0)) * 0.1, np.asarray(min_scale, dtype=float))
    return np.maximum(q75 - q25, floor)
