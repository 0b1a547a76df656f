"""docker-compose.yml is a valid Compose file with the services the architecture names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


COMPOSE = compose_command()
needs_compose = pytest.mark.skipif(COMPOSE is None,
                                   reason="docker compose not installed; make test installs it")


@needs_compose
def test_compose_accepts_the_file() -> None:
    done = subprocess.run([*COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


@needs_compose
def test_compose_refuses_a_broken_file(tmp_path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  console:\n    ports: 8080\n")
    done = subprocess.run([*COMPOSE, "-f", str(broken), "config", "-q"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode != 0


def test_the_sensor_runs_on_the_host_network_with_capture_capabilities() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"elasticsearch", "console", "sensor"} <= set(services)
    assert services["sensor"]["network_mode"] == "host"
    assert {"NET_RAW", "NET_ADMIN"} <= set(services["sensor"]["cap_add"])
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/")
