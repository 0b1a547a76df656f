"""``liaowang replay --rotated``: a capture cut into files (as ``tcpdump -G``/``-C`` or
``dumpcap -b`` leave it), some of them compressed, replayed as the one capture it was."""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.sigma import SigmaDetector
from liaowang.config import SensorSettings
from pipelines.packets.pcapfile import PcapWriter
from pipelines.replay import open_captures, replay
from sensor.capture import CaptureError, CaptureFile
from tests.utils.events import KeptEvents
from tests.utils.pcaps import PCAPS

Event = dict[str, Any]
PFCP = PCAPS / "BerezinaElizaveta__Diploma/n4.pcap"     # PFCP alerts, 11 long flows
MODBUS = PCAPS / "zeek__zeek/testing__btest__Traces__modbus__modbusSmall.pcap"  # one session



def run(paths: list[Path], rotated: bool) -> list[Event]:
    kept = KeptEvents()
    replay(open_captures([str(p) for p in paths], rotated), [kept], SensorSettings(name="tap"),
           detectors=[SigmaDetector.load()], rotated=rotated)
    return kept.events


def cut(source: Path, at: list[int], packed: list[bool], folder: Path) -> list[Path]:
    """``source`` cut before each frame number of ``at``; a part is gzipped where ``packed``."""
    frames = list(CaptureFile(source))
    bounds = [0, *at, len(frames)]
    parts = []
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        path = folder / f"part-{index}.pcap"
        with path.open("wb") as out:
            PcapWriter(out, frames[0].linktype).write(frames[start:end])
        if packed[index % len(packed)]:
            path = path.rename(path.with_suffix(".pcap.gz"))
            path.write_bytes(gzip.compress(path.read_bytes()))
        parts.append(path)
    return parts


def as_uncut(events: list[Event], parts: list[Path], source: Path) -> list[Event]:
    """The events of the parts as the uncut capture's: each frame numbered in the whole, the
    file and path the source's, after checking that the path is the frame's part's."""
    starts, sizes, count = {}, {}, 0
    for part in parts:
        starts[part.name], sizes[part.name] = count, sum(1 for _ in CaptureFile(part))
        count += sizes[part.name]
    for event in events:
        pcap = event.get("pcap")
        if pcap is None:
            continue
        assert event["log"]["file"]["path"] == str(next(
            p.resolve() for p in parts if p.name == pcap["file"]))
        start = starts[pcap["file"]]
        assert 1 <= pcap["frame"] <= sizes[pcap["file"]]
        frames = event.get("evidence", {}).get("frames")
        if frames:
            event["evidence"]["frames"] = [start + frame for frame in frames]
        event["pcap"] = {"file": source.name, "frame": start + pcap["frame"]}
        event["log"] = {"file": {"path": str(source.resolve())}}
    return events


def split(events: list[Event]) -> tuple[list[Event], dict[str, Event]]:
    """The events but incident documents, in order; and the last document of each incident
    (incidents are written after the batch that changed them, so their in-between documents
    follow where the files cut the batches)."""
    rest = [e for e in events if e["event"]["dataset"] != "incident"]
    last = {e["event"]["id"]: e for e in events if e["event"]["dataset"] == "incident"}
    return rest, last


@pytest.fixture(scope="module")
def uncut() -> dict[Path, list[Event]]:
    return {source: run([source], rotated=False) for source in (PFCP, MODBUS)}


@settings(max_examples=12, deadline=None)
@given(source=st.sampled_from([PFCP, MODBUS]), data=st.data(),
       packed=st.lists(st.booleans(), min_size=1, max_size=3))
def test_a_rotated_capture_gives_the_events_of_the_uncut_one(
        tmp_path_factory, uncut: dict[Path, list[Event]], source: Path, data: st.DataObject,
        packed: list[bool]) -> None:
    total = sum(1 for _ in CaptureFile(source))
    at = sorted(data.draw(st.sets(st.integers(1, total - 1), min_size=1, max_size=4)))
    parts = cut(source, at, packed, tmp_path_factory.mktemp("rotated"))

    events, last = split(as_uncut(run(parts, rotated=True), parts, source))
    whole, whole_last = split(json.loads(json.dumps(uncut[source])))

    alerts = [e for e in events if e["event"]["kind"] == "alert"]
    others = [e for e in events if e["event"]["kind"] != "alert"]
    assert others == [e for e in whole if e["event"]["kind"] != "alert"]
    whole_alerts = [e for e in whole if e["event"]["kind"] == "alert"]
    assert [a["event"]["id"] for a in alerts] == [a["event"]["id"] for a in whole_alerts]
    for mine, theirs in zip(alerts, whole_alerts, strict=True):
        # frames of contributing events in other files than the alert's stay out of its frames
        mine_frames = set(mine["evidence"].pop("frames", []))
        assert mine_frames <= set(theirs["evidence"].pop("frames", []))
        assert mine == theirs
    assert last == whole_last


def test_without_rotated_each_file_cuts_the_flows(uncut: dict[Path, list[Event]],
                                                  tmp_path: Path) -> None:
    parts = cut(PFCP, [2000, 4000], [False], tmp_path)

    def flows(events: list[Event]) -> int:
        return sum(1 for e in events if e["event"]["dataset"] == "flow")
    assert flows(run(parts, rotated=True)) == flows(uncut[PFCP]) == 11
    assert flows(run(parts, rotated=False)) > 11


def test_files_of_one_name_are_refused_as_a_rotated_capture(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.pcap").write_bytes(MODBUS.read_bytes())
    paths = [str(tmp_path / "a" / "x.pcap"), str(tmp_path / "b" / "x.pcap")]
    assert len(open_captures(paths)) == 2
    with pytest.raises(CaptureError, match=r"need names of their own: x\.pcap"):
        open_captures(paths, rotated=True)


def test_the_command_takes_rotated(uncut: dict[Path, list[Event]], tmp_path: Path) -> None:
    parts = cut(MODBUS, [40, 90], [False, True], tmp_path)
    out = tmp_path / "events.jsonl"
    done = subprocess.run([str(Path(sys.executable).with_name("liaowang")), "replay",
                           "--rotated", *map(str, parts), "--jsonl", str(out)],
                          capture_output=True, text=True, check=True)
    flows = sum(1 for e in uncut[MODBUS] if e["event"]["dataset"] == "flow")
    assert f"packets=166 flows={flows} " in done.stderr
    files = {json.loads(line).get("pcap", {}).get("file") for line in out.read_text().splitlines()}
    assert {p.name for p in parts} <= files
