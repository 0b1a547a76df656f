"""The configuration file: defaults, and refusals that name the file, line, key and reason."""

from __future__ import annotations

import pytest

from liaowang.config import ConfigError, load_config


def write(tmp_path, text: str):
    path = tmp_path / "liaowang.yml"
    path.write_text(text)
    return path


def test_no_file_gives_working_defaults() -> None:
    settings = load_config(None)
    assert settings.store.url.startswith("sqlite:")
    assert settings.console.port == 8080
    assert settings.sensor.flows.idle_timeout > 0


def test_an_empty_file_gives_the_defaults(tmp_path) -> None:
    assert load_config(write(tmp_path, "")) == load_config(None)


def test_values_are_read(tmp_path) -> None:
    settings = load_config(write(tmp_path, "store:\n  url: sqlite:///tmp/x.db\n"
                                           "sensor:\n  name: tap-7\n  flows: {max_flows: 10}\n"))
    assert settings.store.url == "sqlite:///tmp/x.db"
    assert settings.sensor.name == "tap-7"
    assert settings.sensor.flows.max_flows == 10


@pytest.mark.parametrize(("text", "line", "key", "reason"), [
    ("console:\n  prot: 80\n", 2, "console.prot", "unknown key"),
    ("store:\n  url: x\nsensor:\n  flows:\n    idle_timeout: -3\n", 5,
     "sensor.flows.idle_timeout", "greater than 0"),
    ("console:\n  port: eighty\n", 2, "console.port", "valid integer"),
    ("sensor:\n  weirds:\n    then_every: 0\n", 3, "sensor.weirds.then_every",
     "greater than or equal to 1"),
    ("- just\n- a list\n", 1, "", "mapping of sections"),
    ("sensor:\n  analyzers:\n    - modbus\n    - modbsu\n", 4, "sensor.analyzers.1",
     "'s7comm'"),
    ("store: {url: [unclosed\n", 2, "", ""),
])
def test_bad_files_are_refused_with_file_line_key_and_reason(tmp_path, text, line, key,
                                                            reason) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.path, error.line, error.key) == (str(path), line, key)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:{line}: ")


def test_a_missing_file_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "absent.yml")


def test_the_analyzer_names_a_configuration_takes_are_the_sensors() -> None:
    from typing import get_args

    from liaowang.config import AnalyzerName
    from sensor.analyzers import ANALYZERS

    assert set(get_args(AnalyzerName)) == {spec.name for spec in ANALYZERS}


def test_analyzers_are_read(tmp_path) -> None:
    settings = load_config(write(tmp_path, "sensor:\n  analyzers: [modbus, pfcp]\n"))
    assert settings.sensor.analyzers == ("modbus", "pfcp")
    assert load_config(write(tmp_path, "sensor:\n  analyzers: []\n")).sensor.analyzers == ()
    assert load_config(None).sensor.analyzers is None
