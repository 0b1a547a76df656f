"""An alert's packets as a pcap: from the capture file a replay read (``log.file.path``), else
from the live sensor's rolling packet buffer (``sensor.packet_buffer``).

The packets are those of the alert's flow (its endpoints, both directions) captured from
``BEFORE_S`` before the flow began (or the alert, for events that carry no start) to ``AFTER_S``
after the alert, plus, from a capture file, the frames the alert names (``pcap.frame`` and
``evidence.frames``) whatever they are. At most ``MAX_PACKETS`` packets or ``MAX_BYTES`` bytes
are written; frames of a link type other than the first one met are left out (a pcap has one).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from liaowang.config import PacketBufferSettings
from liaowang.events import get_field, parse_timestamp
from pipelines.packets.buffer import segments
from pipelines.packets.flows import FlowKey, NoFlow, flow_frames
from pipelines.packets.pcapfile import PcapWriter
from sensor.capture import CaptureError, CaptureFile, Frame, FrameBlock

BEFORE_S = 3600
AFTER_S = 600
MAX_PACKETS = 100_000
MAX_BYTES = 64 << 20
BLOCK = 65_536


class NoPackets(LookupError):
    """No packets of the alert can be found; ``str()`` says why."""


@dataclass(slots=True)
class Export:
    pcap: bytes
    packets: int
    source: str          # "file" or "buffer"
    truncated: bool      # stopped at MAX_PACKETS / MAX_BYTES


def alert_pcap(alert: dict, packet_buffer: PacketBufferSettings | None) -> Export:
    """The pcap of ``alert``'s packets; :class:`NoPackets` when there is no source or no
    packet of it in the source."""
    try:
        flow = FlowKey.of(alert)
    except NoFlow as exc:
        raise NoPackets(str(exc)) from exc
    start_ns, end_ns = _window(alert)
    path = get_field(alert, "log.file.path")
    if path and Path(path).is_file():
        frames = flow_frames(_file_blocks(Path(path)), flow, _alert_frames(alert),
                             start_ns, end_ns)
        return _written(frames, "file")
    if packet_buffer is not None:
        folder = Path(packet_buffer.path)
        blocks = _buffer_blocks(segments(folder, start_ns, end_ns))
        return _written(flow_frames(blocks, flow, (), start_ns, end_ns), "buffer")
    where = f"its capture file {path} is not on this machine" if path else \
        "it was not read from a capture file"
    raise NoPackets(f"no packets for this alert: {where}, and no sensor.packet_buffer is "
                    "configured")


def _window(alert: dict) -> tuple[int, int]:
    """Capture times (ns) to look in: before the flow's start (or the alert), to after it;
    all times when the alert has no time."""
    alert_ns = _ns(alert.get("@timestamp"))
    if not alert_ns:
        return 0, 2**63 - 1
    start_ns = _ns(get_field(alert, "event.start")) or alert_ns
    return start_ns - BEFORE_S * 10**9, alert_ns + AFTER_S * 10**9


def _ns(text: object) -> int:
    try:
        return parse_timestamp(str(text)) * 1000 if text else 0
    except ValueError:
        return 0


def _alert_frames(alert: dict) -> list[int]:
    frames = [get_field(alert, "pcap.frame"), *(get_field(alert, "evidence.frames") or [])]
    return [frame for frame in frames if isinstance(frame, int)]


def _file_blocks(path: Path) -> Iterator[FrameBlock]:
    try:
        yield from CaptureFile(path).blocks(BLOCK)
    except CaptureError as exc:
        raise NoPackets(str(exc)) from exc


def _buffer_blocks(paths: Iterable[Path]) -> Iterator[FrameBlock]:
    """The blocks of each segment; a segment deleted meanwhile, or unreadable, is skipped."""
    for path in paths:
        try:
            yield from CaptureFile(path).blocks(BLOCK)
        except CaptureError:
            continue


def _written(frames: Iterator[Frame], source: str) -> Export:
    out = io.BytesIO()
    writer: PcapWriter | None = None
    count = size = 0
    for frame in frames:
        if count >= MAX_PACKETS or size >= MAX_BYTES:
            return Export(out.getvalue(), count, source, truncated=True)
        if writer is None:
            writer = PcapWriter(out, frame.linktype)
        if frame.linktype == writer.linktype:
            size += writer.write([frame])
            count += 1
    if writer is None:
        raise NoPackets(f"no packets of this alert's flow in the {source}")
    return Export(out.getvalue(), count, source, truncated=False)
