"""Flow records agree with tshark's conversation statistics (``-z conv,tcp``/``conv,udp``/
``conv,sctp``) on packets per direction, and on bytes where tshark prints them exactly.

The sensor ends flows on timeouts and TCP close, tshark never does, so flows are summed per pair
of endpoints before they are compared. GTP-U user plane is compared on the inner conversations;
on the outer UDP/2152 conversations only GTP-U signalling is metered as such, so there the
sensor counts at most what tshark counts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.utils.pcaps import PCAPS, manifest, run_sensor

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None,
                                reason="tshark not installed; make test installs it")
CONVERSATION = re.compile(
    r"^(?P<a>\S+)\s+<->\s+(?P<b>\S+)\s+(?P<ba_frames>\d+)\s+(?P<ba_bytes>[\d,]+ \w+)\s+"
    r"(?P<ab_frames>\d+)\s+(?P<ab_bytes>[\d,]+ \w+)")
Pair = tuple[str, frozenset[tuple[str, int]]]


def sample() -> list[Path]:
    """Up to three small captures of each link type and first protocol, for variety."""
    seen: Counter[tuple[str, str]] = Counter()
    chosen = []
    for row in manifest():
        first = (row["protocols_found"].split() or ["none"])[0].split(":")[0]
        group = (row["linktype"], first)
        if int(row["packets"]) <= 3000 and seen[group] < 3:
            seen[group] += 1
            chosen.append(PCAPS / row["path"])
    return chosen


def endpoint(text: str) -> tuple[str, int]:
    address, port = text.rsplit(":", 1)
    return address, int(port)


def tshark_conversations(path: Path) -> dict[Pair, dict[tuple[str, int], tuple[int, int | None]]]:
    out = subprocess.run(["tshark", "-n", "-q", "-r", str(path), "-z", "conv,tcp", "-z",
                          "conv,udp", "-z", "conv,sctp"], capture_output=True, text=True,
                         check=True).stdout
    conversations: dict = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    transport = ""
    for line in out.splitlines():
        if line.endswith("Conversations"):
            transport = line.split()[0].lower()
        match = CONVERSATION.match(line)
        if match is None:
            continue
        a, b = endpoint(match["a"]), endpoint(match["b"])
        pair = (transport, frozenset({a, b}))
        for sender, frames, size in ((b, "ba_frames", "ba_bytes"), (a, "ab_frames", "ab_bytes")):
            counts = conversations[pair][sender]
            counts[0] += int(match[frames])
            exact = match[size].endswith(" bytes") and counts[1] is not None
            counts[1] = counts[1] + int(match[size].split()[0].replace(",", "")) if exact else None
    return {pair: {k: tuple(v) for k, v in sides.items()} for pair, sides in conversations.items()}


def liaowang_conversations(path: Path) -> dict[Pair, dict[tuple[str, int], tuple[int, int]]]:
    conversations: dict = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for event in run_sensor(path, idle_timeout_s=1e9, active_timeout_s=1e9):
        if event["event"]["dataset"] != "flow" or "port" not in event["source"]:
            continue
        src, dst = event["source"], event["destination"]
        a, b = (src["ip"], src["port"]), (dst["ip"], dst["port"])
        pair = (event["network"]["transport"], frozenset({a, b}))
        for side, values in ((a, src), (b, dst)):
            conversations[pair][side][0] += values["packets"]
            conversations[pair][side][1] += values["bytes"]
    return conversations


CAPTURES = sample()


def test_the_sample_covers_every_link_type() -> None:
    types = {row["linktype"] for row in manifest()}
    chosen = {row["linktype"] for row in manifest() if PCAPS / row["path"] in CAPTURES}
    assert chosen == types and len(CAPTURES) >= 40


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_flows_agree_with_tshark_conversations(path: Path) -> None:
    theirs, ours = tshark_conversations(path), liaowang_conversations(path)
    for pair, sides in theirs.items():
        transport, ends = pair
        if transport == "udp" and any(port == 2152 for _, port in ends):
            for side, (frames, _) in sides.items():
                assert ours.get(pair, {}).get(side, (0, 0))[0] <= frames
            continue  # a tunnel: its inner conversations are compared instead
        assert pair in ours, f"tshark conversation {sorted(ends)} ({transport}) not found"
        for side, (frames, size) in sides.items():
            assert ours[pair][side][0] == frames, (pair, side)
            if size is not None:
                assert ours[pair][side][1] == size, (pair, side)
