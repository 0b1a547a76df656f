"""Rule switches set from the console, kept in a small YAML file that detectors watch.

The console writes the file (``PATCH /api/rules/{id}``); every detector on the machine reads it
when it loads its rules and reloads when the file changes, so a rule switched off in the console
stops alerting within about a second in ``liaowang up`` and in a ``liaowang sensor`` or
``replay`` that shares the configuration. A switch wins over the configuration's
``disabled`` for that rule; the rest of the rule's tuning still applies. The file::

    rules:
      <rule id>: {enabled: false}

Writes go to a temporary file renamed over the old one, under an exclusive lock, so readers never
see half a file and two console workers never lose each other's change.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "overrides.yml"
>>> read_overrides(path)
{}
>>> set_enabled(path, "r1", False)
{'r1': False}
>>> read_overrides(path)
{'r1': False}
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from detection.sigma.loader import AnyRule, RulePack, rule_key
from liaowang.config import RuleTuning


class OverridesError(ValueError):
    """An overrides file that cannot be read; ``str()`` names the file and the reason."""


class _Switch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    enabled: bool


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: dict[str, _Switch] = {}


def read_overrides(path: str | Path) -> dict[str, bool]:
    """Rule id -> enabled; a file that does not exist sets nothing."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise OverridesError(f"{path}: {exc.strerror or exc}") from exc
    try:
        parsed = _File.model_validate(yaml.load(text, Loader=yaml.CSafeLoader) or {})
    except yaml.YAMLError as exc:
        raise OverridesError(f"{path}: not YAML: {exc}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise OverridesError(f"{path}: {where}: {error['msg']}") from exc
    return {rule_id: switch.enabled for rule_id, switch in parsed.rules.items()}


def set_enabled(path: str | Path, rule_id: str, enabled: bool) -> dict[str, bool]:
    """Switch one rule on or off in the file; returns every switch now in it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        switches = read_overrides(path)
        switches[rule_id] = enabled
        _replace(path, {"rules": {key: {"enabled": on} for key, on in switches.items()}})
    return switches


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _replace(path: Path, data: dict[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            yaml.safe_dump(data, file, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def tuning_of(rule: AnyRule, tuning: Mapping[str, RuleTuning]) -> RuleTuning | None:
    """The configured tuning of a rule (by id, then name, then title), as the detector finds it."""
    for name in (rule_key(rule), rule.name, rule.title):
        if name and name in tuning:
            return tuning[name]
    return None


def with_overrides(pack: RulePack, tuning: Mapping[str, RuleTuning],
                   switches: Mapping[str, bool]) -> dict[str, RuleTuning]:
    """``tuning`` with each switched rule's ``disabled`` set by its switch, filed by rule id."""
    merged = dict(tuning)
    for rule in [*pack.rules, *pack.correlations]:
        key = rule_key(rule)
        if key in switches:
            base = tuning_of(rule, tuning) or RuleTuning()
            merged[key] = base.model_copy(update={"disabled": not switches[key]})
    return merged
