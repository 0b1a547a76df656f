"""``/api/assets`` after ``liaowang replay`` of a real S7comm capture: the PLC's MAC and its
registered vendor (Siemens), read from the Ethernet headers of the traffic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from tests.utils.pcaps import PCAPS

CAPTURE = PCAPS / "cisagov__icsnpp-s7comm" / "tests__traces__snap7.pcap"
PLC, HMI = "134.217.61.211", "134.217.61.131"


def replay(tmp_path: Path) -> None:
    """The capture through the whole pipeline into the store the console reads."""
    config = tmp_path / "replay.yml"
    config.write_text(f"pipelines: {{spool: {{path: '{tmp_path / 'spool'}'}}}}\n")
    liaowang = Path(sys.executable).parent / "liaowang"
    done = subprocess.run([str(liaowang), "replay", str(CAPTURE), "--store",
                           f"sqlite:///{tmp_path / 'events.db'}", "--config", str(config)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_replayed_capture_gives_mac_vendors(client: TestClient, tmp_path: Path) -> None:
    replay(tmp_path)
    page = client.get("/api/assets", params={"q": "siemens"}).json()
    assert [asset["ip"] for asset in page["data"]] == [PLC]
    [plc] = page["data"]
    assert plc["macs"] == ["00-0E-8C-D0-F9-CB"] and plc["vendor"] == "Siemens AG"
    assert plc["gateway_macs"] == [] and "plc" in plc["roles"]
    hmi = client.get(f"/api/assets/{HMI}").json()["asset"]
    assert hmi["macs"] == ["00-0C-29-C1-49-92"] and hmi["vendor"] == "VMware, Inc."
