"""``liaowang train`` and ``liaowang baseline``: learn from normal traffic, review, approve.

``train`` replays normal captures through the sensor into a :class:`~detection.anomaly.Trainer`
and writes one model file (baseline + window model + metadata). The baseline starts unapproved:
a person reads it (plain YAML), then ``liaowang baseline approve MODEL`` makes its violations
alerts. ``liaowang replay --model MODEL`` scores with the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scikit-learn loads only for the commands that use it
    from detection.anomaly import AnomalyDetector, AnomalyModel


def add_parser(commands: argparse._SubParsersAction) -> None:
    _add_train(commands)
    _add_baseline(commands)


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="learn a baseline and anomaly models from "
                                              "normal traffic")
    train.add_argument("pcaps", nargs="+", metavar="PCAP", help="captures of normal traffic")
    train.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    train.add_argument("--window", type=_positive, default=60.0, metavar="SECONDS",
                       help="length of the per-pair feature windows (default 60)")
    train.add_argument("--quantile", type=_quantile, default=1.0, metavar="Q",
                       help="alert above this quantile of the training scores (default 1.0: "
                            "above every training window)")
    train.add_argument("--seed", type=int, default=0, help="random state of the models")
    train.add_argument("--config", metavar="FILE", help="YAML configuration file")
    train.set_defaults(run=run_train)


def _add_baseline(commands: argparse._SubParsersAction) -> None:
    baseline = commands.add_parser("baseline", help="review a learned baseline")
    actions = baseline.add_subparsers(dest="action", required=True, metavar="ACTION")
    approve_cmd = actions.add_parser("approve", help="mark a model file's baseline as reviewed:"
                                                     " its violations become alerts")
    approve_cmd.add_argument("model", metavar="MODEL", help="model file from 'liaowang train'")
    approve_cmd.add_argument("--by", metavar="NAME", help="reviewer (default: the current user)")
    approve_cmd.set_defaults(run=run_approve)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _quantile(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def run_train(args: argparse.Namespace) -> int:
    from console.cli import Refused, _settings
    from detection.anomaly import Trainer
    from detection.modelfile import save_model
    from pipelines.replay import open_captures, replay

    settings = _settings(args)
    captures = open_captures(args.pcaps)
    trainer = Trainer(args.window, args.seed, args.quantile)
    summary = replay(captures, [], settings.sensor, detectors=[trainer])
    try:
        model = trainer.fit()
    except ValueError as exc:
        raise Refused(f"{', '.join(args.pcaps)}: {exc}") from exc
    save_model(model, args.out, [Path(p).name for p in args.pcaps])
    print(summary.line(), file=sys.stderr)
    print(_trained_line(model, args.out), file=sys.stderr)
    return 0


def _trained_line(model: AnomalyModel, out: str) -> str:
    pairs = len(model.baseline.pairs)
    return (f"trained: pairs={pairs} windows={len(model.training_windows)} "
            f"threshold={model.estimator.threshold_:.4f} span={model.baseline.start}.."
            f"{model.baseline.end} -> {out}\nbaseline not approved: review {out}, then run "
            f"'liaowang baseline approve {out}' to alert on its violations")


def run_approve(args: argparse.Namespace) -> int:
    from console.cli import Refused
    from detection.modelfile import ModelFileError, approve

    try:
        baseline = approve(args.model, args.by)
    except ModelFileError as exc:
        raise Refused(str(exc)) from exc
    print(f"approved by {baseline.approved_by} at {baseline.approved_at}: {args.model}",
          file=sys.stderr)
    return 0


def anomaly_detector(path: str) -> AnomalyDetector:
    """The detector of ``--model PATH``; a file that cannot be used is refused."""
    from console.cli import Refused
    from detection.anomaly import AnomalyDetector
    from detection.modelfile import ModelFileError, load_model

    try:
        model = load_model(path)
    except ModelFileError as exc:
        raise Refused(str(exc)) from exc
    if not model.baseline.approved:
        print(f"liaowang: {path}: baseline not approved, scoring windows only "
              f"('liaowang baseline approve {path}' enforces it)", file=sys.stderr)
    return AnomalyDetector(model, model_name=f"isolation_forest:{Path(path).name}")
