"""The labelled Modbus dataset (Lemay & Fernandez, CSET 2016) as the evaluation reads it.

Each attack capture comes with one label per frame (``_labels/<name>_labeled.csv``, rows
``frame;label``, 1 = malicious). An attack *instance* is a contiguous labelled span: malicious
frames follow one another with at most ``gap`` seconds between them. The plant's polling goes on
during an attack, so benign frames interleave with the attacker's; counting every benign frame
as a cut would make one port scan dozens of "attacks".

The benign part of a capture is its frames labelled 0, read through the sensor as if the
malicious frames had never been on the wire.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import dpkt

from sensor.capture import CaptureFile, Frame, FrameBlock
from sensor.engine import Sensor

DATASET = "antoine-lemay__Modbus_dataset"
LABELS = "_labels"
BLOCK = 4096
Event = dict[str, Any]


class DatasetError(ValueError):
    """The labelled dataset is missing or its labels do not fit its captures."""


# (transport, (ip, port), (ip, port)) with the two ends sorted: a connection either way round
Connection = tuple[str, tuple[str, int], tuple[str, int]]
TRANSPORTS = {dpkt.ip.IP_PROTO_TCP: "tcp", dpkt.ip.IP_PROTO_UDP: "udp"}


def connection(transport: str, one: tuple[str, int], other: tuple[str, int]) -> Connection:
    first, second = sorted([one, other])
    return transport, first, second


@dataclass(frozen=True, slots=True)
class Instance:
    """One attack: its malicious frames, the moments of the first and last, and the
    connections that carried them."""

    frames: frozenset[int]
    start_ns: int
    end_ns: int
    connections: frozenset[Connection] = frozenset()


@dataclass(slots=True)
class LabelledCapture:
    path: Path
    labels: list[int]   # per frame, index 0 = frame 1
    times_ns: list[int]
    connections: list[Connection | None]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def seconds(self) -> float:
        return (self.times_ns[-1] - self.times_ns[0]) / 1e9

    def malicious(self, frame: int) -> bool:
        return 0 < frame <= len(self.labels) and self.labels[frame - 1] == 1

    def instances(self, gap_seconds: float) -> list[Instance]:
        return [Instance(i.frames, i.start_ns, i.end_ns, frozenset(
                    c for f in i.frames if (c := self.connections[f - 1]) is not None))
                for i in attack_instances(self.labels, self.times_ns, gap_seconds)]

    def events(self, benign_only: bool = False) -> list[Event]:
        """The sensor's events of the capture (or of its benign frames only), with the
        capture's own frame numbers."""
        frames = (f for f in islice(CaptureFile(self.path), len(self.labels))
                  if not (benign_only and self.labels[f.number - 1]))
        return sensor_events(frames, self.path.name)

    def head(self, frames: int) -> LabelledCapture:
        """The capture's first ``frames`` frames only (a slice for quick checks)."""
        return LabelledCapture(self.path, self.labels[:frames], self.times_ns[:frames],
                               self.connections[:frames])


def attack_instances(labels: list[int], times_ns: list[int],
                     gap_seconds: float) -> list[Instance]:
    """Malicious frames grouped into instances (at most ``gap_seconds`` inside one).

    >>> [sorted(i.frames) for i in attack_instances([0, 1, 0, 1, 0, 1], [0, 1, 2, 3, 4, 9_000],
    ...                                             gap_seconds=1e-6)]
    [[2, 4], [6]]
    """
    gap_ns = int(gap_seconds * 1e9)
    groups: list[list[int]] = []
    for frame, (label, ts) in enumerate(zip(labels, times_ns, strict=True), start=1):
        if not label:
            continue
        if groups and ts - times_ns[groups[-1][-1] - 1] <= gap_ns:
            groups[-1].append(frame)
        else:
            groups.append([frame])
    return [Instance(frozenset(g), times_ns[g[0] - 1], times_ns[g[-1] - 1]) for g in groups]


def sensor_events(frames: Iterator[Frame], name: str) -> list[Event]:
    sensor = Sensor("eval", pcap_file=name)
    events: list[Event] = []
    while chunk := list(islice(frames, BLOCK)):
        events += sensor.process_block(FrameBlock.from_frames(chunk))
    return events + sensor.finish()


def read_labels(path: Path) -> list[int]:
    """``frame;label`` rows, in frame order from 1; anything else is refused with its line."""
    labels: list[int] = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        frame, _, label = line.strip().partition(";")
        if frame != str(line_number) or label not in ("0", "1"):
            raise DatasetError(f"{path}:{line_number}: expected '{line_number};0' or "
                               f"'{line_number};1', got {line.strip()!r}")
        labels.append(int(label))
    return labels


def load(directory: Path) -> list[LabelledCapture]:
    """Every capture of the dataset that has its per-frame labels, oldest first."""
    labels_dir = directory / LABELS
    if not labels_dir.is_dir():
        raise DatasetError(f"{labels_dir}: no labels (is the dataset in {directory.parent}?)")
    captures = []
    for pcap in sorted(directory.glob("*.pcap")):
        label_file = labels_dir / f"{pcap.stem}_labeled.csv"
        if label_file.is_file():
            captures.append(_labelled(pcap, read_labels(label_file)))
    return sorted(captures, key=lambda c: c.times_ns[0])


def _labelled(pcap: Path, labels: list[int]) -> LabelledCapture:
    frames = list(CaptureFile(pcap))
    if len(frames) != len(labels):
        raise DatasetError(f"{pcap}: {len(frames)} frames but {len(labels)} labels")
    return LabelledCapture(pcap, labels, [f.ts_ns for f in frames],
                           [_connection(f.data) for f in frames])


def _connection(data: bytes) -> Connection | None:
    """The TCP/UDP connection of an Ethernet/IPv4 frame (the dataset's only kind)."""
    try:
        packet = dpkt.ethernet.Ethernet(data).data
    except dpkt.UnpackError:
        return None
    if not isinstance(packet, dpkt.ip.IP) or packet.p not in TRANSPORTS:
        return None
    segment = packet.data
    if not hasattr(segment, "sport"):
        return None
    return connection(TRANSPORTS[packet.p], (socket.inet_ntoa(packet.src), segment.sport),
                      (socket.inet_ntoa(packet.dst), segment.dport))
