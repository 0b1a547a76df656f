"""``liaowang train``, ``baseline approve`` and ``replay --model`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from console.cli import main
from liaowang.schema import validate
from tests.detection.conftest import normal_capture

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
NORMAL = normal_capture("pcaps__ModbusTCP__Modbus__modbus_test_2.pcap")
# The same PLC, polled by other hosts as well: new pairs for this baseline.
OTHERS = normal_capture("pcaps__ModbusTCP__Modbus__modbus_test.pcap")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "plant.yml"
    done = subprocess.run([LIAOWANG, "train", str(NORMAL), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "trained: pairs=1 " in done.stderr and "baseline not approved" in done.stderr
    return out


def copy_of(model_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "model.yml"
    path.write_text(model_file.read_text())
    return path


def replay(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["replay", *args, "--jsonl", "-"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_the_model_file_is_readable_with_its_metadata(model_file):
    document = yaml.safe_load(model_file.read_text())
    assert document["format"] == "liaowang-anomaly-model"
    assert document["feature_schema_version"] == 1
    assert set(document["libraries"]) == {"liaowang", "numpy", "scikit-learn"}
    assert document["training"]["captures"] == [NORMAL.name]
    assert document["training"]["start"].startswith("2017-06-09T07:58")
    assert document["baseline"]["approved"] is False
    assert list(document["baseline"]["pairs"]) == ["192.168.0.21 -> 192.168.0.20"]
    assert len(document["model"]["training_windows"]) == document["training"]["windows"] > 10


def test_replaying_the_training_capture_with_the_model_is_quiet(model_file):
    done = subprocess.run([LIAOWANG, "replay", str(NORMAL), "--model", str(model_file),
                           "--jsonl", "-"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert " alerts=0 " in done.stderr.splitlines()[-1]
    assert "baseline not approved" in done.stderr
    assert done.stdout.count('"modbus"') > 1000


def test_an_approved_baseline_alerts_on_new_pairs_with_what_it_expected(
        model_file, tmp_path, capsys):
    path = copy_of(model_file, tmp_path)
    code, _, _ = replay(capsys, str(OTHERS), "--model", str(path))
    assert code == 0
    assert main(["baseline", "approve", str(path), "--by", "alice"]) == 0
    approved = yaml.safe_load(path.read_text())["baseline"]
    assert approved["approved"] is True and approved["approved_by"] == "alice"
    code, events, _ = replay(capsys, str(OTHERS), "--model", str(path))
    assert code == 0
    alerts = [e for e in events if e["event"]["kind"] == "alert"]
    new_pairs = [a for a in alerts if a["rule"]["id"] == "liaowang-baseline-new-pair"]
    assert new_pairs and all(validate(a) == [] for a in alerts)
    assert all(a["baseline"]["expected"] == ["192.168.0.21 -> 192.168.0.20"] for a in new_pairs)
    observed = {a["baseline"]["observed"] for a in new_pairs}
    assert "192.168.0.21 -> 192.168.0.20" not in observed
    assert {a["event"]["dataset"] for a in new_pairs} == {"modbus", "flow"}
    once = {(a["event"]["dataset"], a["baseline"]["observed"]) for a in new_pairs}
    assert len(once) == len(new_pairs)


def test_a_model_of_another_feature_schema_is_refused(model_file, tmp_path, capsys):
    path = copy_of(model_file, tmp_path)
    path.write_text(path.read_text().replace("feature_schema_version: 1",
                                             "feature_schema_version: 99"))
    code, events, err = replay(capsys, str(NORMAL), "--model", str(path))
    assert code == 2 and events == []
    assert "feature schema 99" in err and "train it again" in err
    assert err.count("\n") == 1


def test_a_model_that_does_not_reproduce_is_refused(model_file, tmp_path, capsys):
    path = copy_of(model_file, tmp_path)
    document = yaml.safe_load(path.read_text())
    document["model"]["training_windows"][0][0] += 1000.0
    path.write_text(yaml.safe_dump(document))
    code, _, err = replay(capsys, str(NORMAL), "--model", str(path))
    assert code == 2
    assert "does not reproduce" in err and "scikit-learn" in err


def test_a_file_that_is_not_a_model_is_refused(tmp_path, capsys):
    path = tmp_path / "settings.yml"
    path.write_text("store: {url: 'sqlite:x.db'}\n")
    code, _, err = replay(capsys, str(NORMAL), "--model", str(path))
    assert code == 2 and "not a model file" in err
    assert main(["baseline", "approve", str(path)]) == 2
    assert "not a model file" in capsys.readouterr().err
