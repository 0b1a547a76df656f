"""The benchmark's start-up measurement: the first-packet copy, and rates with start-up out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.report import rates, ratio, rows
from bench.run import first_packets
from sensor.capture import CaptureFile
from tests.utils.pcaps import PCAPS

CAPTURES = ["zeek__zeek/testing__btest__Traces__tunnels__gtp__pdp_ctx_messages.pcapng",
            "BerezinaElizaveta__Diploma/n4.pcap"]


@pytest.mark.parametrize("name", CAPTURES)
def test_the_first_packet_copy_holds_the_first_frame_and_its_link_type(
        name: str, tmp_path: Path) -> None:
    capture = tmp_path / Path(name).name
    shutil.copy(PCAPS / name, capture)
    first = next(iter(CaptureFile(capture)))

    copy = first_packets(capture)

    frames = list(CaptureFile(copy))
    assert copy.parent == tmp_path and copy.suffix == ".pcap"
    assert len(frames) == 1
    assert (frames[0].data, frames[0].linktype) == (first.data, first.linktype)


def results(liaowang: dict[str, Any], tshark: dict[str, Any]) -> dict[str, Any]:
    tools = [{"tool": "liaowang-flows", "status": "ok", "packets": 1_000_001,
              "cpu_seconds": 1.0, "detail": {}, **liaowang},
             {"tool": "tshark", "status": "ok", "packets": 1_000_001, "cpu_seconds": 20.0,
              "detail": {}, **tshark}]
    return {"contents": {"packets": 1_000_001}, "startup_packets": 1, "tools": tools,
            "machine": {"versions": {}}}


def test_rates_after_startup_leave_out_the_first_packet_and_its_run() -> None:
    found = results({"seconds": 1.0, "startup_seconds": 0.5},
                    {"seconds": 20.5, "startup_seconds": 0.5})

    assert rates(found)["liaowang-flows"] == pytest.approx(1_000_001)
    assert rates(found, after_startup=True)["liaowang-flows"] == pytest.approx(2_000_000)
    assert rates(found, after_startup=True)["tshark"] == pytest.approx(50_000)


def test_a_target_can_be_missed_with_startup_and_met_without() -> None:
    found = results({"seconds": 1.0, "startup_seconds": 0.4},
                    {"seconds": 20.2, "startup_seconds": 0.2})

    with_startup = ratio("tshark", rates(found), "liaowang-flows")
    after_startup = ratio("tshark", rates(found, after_startup=True), "liaowang-flows")

    assert with_startup.startswith("20.20×") and with_startup.endswith("missed)")
    assert after_startup.startswith("33.33×") and after_startup.endswith("met)")


def test_a_tool_without_a_startup_run_has_no_rate_after_startup() -> None:
    found = results({"seconds": 1.0}, {"seconds": 20.0, "startup_seconds": 0.3})

    assert rates(found, after_startup=True)["liaowang-flows"] is None
    mine = rows(found)[0]
    assert mine[3] == "n/a" and mine[6] == "n/a"
