"""The model file: one YAML document holding a baseline and a window model, with metadata.

Everything in it is data a person can read and diff (keys sorted): the baseline, the training
span and captures, the library versions, the feature names, and the training windows
themselves. The forest is not stored as code (no pickle): loading refits it on the stored
windows with the stored parameters and seed, which gives the same trees, and checks that the
threshold comes out as it did at training — a file whose numbers this installation cannot
reproduce, or whose format or feature schema differs, is refused with :class:`ModelFileError`.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from detection.anomaly import AnomalyModel
from detection.baseline import Baseline
from detection.features import FEATURE_SCHEMA_VERSION, FEATURES
from detection.models import WindowIsolationForest

FORMAT = "liaowang-anomaly-model"
FORMAT_VERSION = 1
LIBRARIES = ("liaowang", "numpy", "scikit-learn")
THRESHOLD_TOLERANCE = 1e-9


class ModelFileError(ValueError):
    """A model file that cannot be used; ``str()`` says which file and why."""


def library_versions() -> dict[str, str]:
    return {name: _version(name) for name in LIBRARIES}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def save_model(model: AnomalyModel, path: str | Path, captures: Sequence[str] = ()) -> None:
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "libraries": library_versions(),
        "training": {**model.training, "captures": list(captures)},
        "baseline": model.baseline.to_dict(),
        "model": _model_section(model),
    }
    _write(Path(path), document)


def _model_section(model: AnomalyModel) -> dict[str, Any]:
    estimator = model.estimator
    return {
        "kind": "isolation_forest",
        "params": estimator.get_params(),
        "window_seconds": model.window_seconds,
        "features": list(FEATURES),
        "threshold": estimator.threshold_,
        "pair_medians": model.pair_medians,
        "training_windows": model.training_windows,
    }


def _write(path: Path, document: dict[str, Any]) -> None:
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=100)
    path.write_text(text)


class _Dumper(yaml.SafeDumper):
    """Block style, except that a row of numbers stays on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = bool(data) and all(isinstance(v, int | float) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def read_document(path: str | Path) -> dict[str, Any]:
    """The parsed file, refused unless it is a model file of this format and feature schema."""
    name = str(path)
    try:
        document = yaml.load(Path(path).read_text(), Loader=yaml.CSafeLoader)
    except OSError as exc:
        raise ModelFileError(f"{name}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ModelFileError(f"{name}: not a model file (invalid YAML)") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not a model file ('format: {FORMAT}' missing); "
                             "make one with 'liaowang train PCAP... --out MODEL'")
    _check_versions(name, document)
    return document


def _check_versions(name: str, document: dict[str, Any]) -> None:
    found = (document.get("format_version"), document.get("feature_schema_version"))
    wanted = (FORMAT_VERSION, FEATURE_SCHEMA_VERSION)
    if found != wanted:
        raise ModelFileError(
            f"{name}: model file format {found[0]} with feature schema {found[1]}, but this "
            f"liaowang reads format {wanted[0]} with feature schema {wanted[1]}; "
            "train it again with 'liaowang train'")
    if document["model"].get("features") != list(FEATURES):
        raise ModelFileError(f"{name}: the file's feature list differs from this liaowang's; "
                             "train it again with 'liaowang train'")


def load_model(path: str | Path) -> AnomalyModel:
    document = read_document(path)
    section = document["model"]
    estimator = WindowIsolationForest(**section["params"]).fit(section["training_windows"])
    if abs(estimator.threshold_ - section["threshold"]) > THRESHOLD_TOLERANCE:
        raise ModelFileError(
            f"{path}: the model does not reproduce here (threshold {estimator.threshold_:.6f}, "
            f"trained {section['threshold']:.6f}): trained with {document['libraries']}, "
            f"running with {library_versions()}; train it again with 'liaowang train'")
    return AnomalyModel(Baseline.from_dict(document["baseline"]), estimator,
                        section["training_windows"], section["pair_medians"],
                        float(section["window_seconds"]), document.get("training") or {})


def approve(path: str | Path, by: str | None = None) -> Baseline:
    """Mark the file's baseline reviewed and approved, so its violations become alerts."""
    document = read_document(path)
    baseline = document["baseline"]
    baseline["approved"] = True
    baseline["approved_by"] = by or getpass.getuser()
    baseline["approved_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write(Path(path), document)
    return Baseline.from_dict(baseline)
