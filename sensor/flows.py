"""Bidirectional flow metering.

A flow is keyed by its transport, VLAN and both endpoints in canonical order; its ``source`` is
the side that sent the first packet seen. Flows end on an idle or active timeout, shortly after a
TCP close, when the table is full (the oldest flow is evicted and counted), or at the end of the
input. Ended flows are returned to the caller, which turns them into ``flow`` events.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import communityid

from sensor.decode import Packet

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
TCP_FLAG_LETTERS = ((TCP_SYN, "S"), (TCP_ACK, "A"), (TCP_PSH, "P"), (TCP_FIN, "F"),
                    (TCP_RST, "R"), (TCP_URG, "U"))
CLOSE_LINGER_US = 5_000_000
FlowKey = tuple[Any, ...]

_community = communityid.CommunityID()


@dataclass(slots=True)
class Flow:
    key: FlowKey
    src: str
    sport: int
    dst: str
    dport: int
    proto: int
    vlan: int | None
    first_us: int
    first_frame: int
    last_us: int = 0
    packets: list[int] = field(default_factory=lambda: [0, 0])
    bytes: list[int] = field(default_factory=lambda: [0, 0])
    tcp_flags: int = 0
    fins: int = 0
    closed_us: int | None = None
    end_reason: str = ""
    app: Any = None   # the analyzer session of this flow: None undecided, False none
    _community_id: str = ""

    def community_id(self) -> str:
        if not self._community_id:
            with_ports = self.proto in (1, 6, 17, 58, 132)
            ports = (self.sport, self.dport) if with_ports else (None, None)
            self._community_id = _community.calc(
                communityid.FlowTuple(self.proto, self.src, self.dst, *ports))
        return self._community_id

    def count(self, packet: Packet, from_source: bool) -> None:
        side = 0 if from_source else 1
        self.packets[side] += 1
        self.bytes[side] += packet.wire_len
        self.last_us = max(self.last_us, packet.ts_us)
        if packet.proto == 6:
            self._track_tcp(packet.tcp_flags, packet.ts_us)

    def _track_tcp(self, flags: int, ts_us: int) -> None:
        self.tcp_flags |= flags
        if flags & TCP_FIN:
            self.fins += 1
        if self.closed_us is None and (flags & TCP_RST or self.fins >= 2):
            self.closed_us = ts_us

    def flag_letters(self) -> str:
        return "".join(letter for bit, letter in TCP_FLAG_LETTERS if self.tcp_flags & bit)


def flow_key(packet: Packet) -> tuple[FlowKey, bool]:
    """The canonical key of a packet's flow, and whether the packet goes from the lower side."""
    a, b = (packet.src, packet.sport), (packet.dst, packet.dport)
    forward = a <= b
    ends = (a, b) if forward else (b, a)
    return (packet.proto, packet.vlan, *ends), forward


class FlowTable:
    """All live flows, bounded in number, kept in order of last activity."""

    def __init__(self, idle_timeout_s: float = 60.0, active_timeout_s: float = 1800.0,
                 max_flows: int = 1_000_000) -> None:
        self.idle_us = int(idle_timeout_s * 1_000_000)
        self.active_us = int(active_timeout_s * 1_000_000)
        self.max_flows = max_flows
        self._flows: OrderedDict[FlowKey, tuple[Flow, bool]] = OrderedDict()
        self.evicted = 0
        self.created = 0

    def __len__(self) -> int:
        return len(self._flows)

    def update(self, packet: Packet) -> tuple[Flow, bool, list[Flow]]:
        """Count ``packet`` in its flow. Returns the flow, whether the packet travels from the
        flow's source, and flows ended to make room."""
        key, forward = flow_key(packet)
        entry = self._flows.get(key)
        ended: list[Flow] = []
        if entry is not None and self._expired(entry[0], packet.ts_us):
            ended.append(self._end(key, self._reason(entry[0], packet.ts_us)))
            entry = None
        if entry is None:
            if len(self._flows) >= self.max_flows:
                ended.append(self._evict_oldest())
            flow = Flow(key, packet.src, packet.sport, packet.dst, packet.dport, packet.proto,
                        packet.vlan, packet.ts_us, packet.frame, packet.ts_us)
            entry = (flow, forward)
            self._flows[key] = entry
            self.created += 1
        else:
            self._flows.move_to_end(key)
        flow, source_forward = entry
        from_source = forward == source_forward
        flow.count(packet, from_source)
        return flow, from_source, ended

    def expire(self, now_us: int) -> list[Flow]:
        """End the flows that timed out by ``now_us`` (packet time)."""
        ended = []
        for key, (flow, _) in list(self._flows.items()):
            if now_us - flow.last_us < min(self.idle_us, CLOSE_LINGER_US):
                break  # ordered by last activity: the rest are more recent
            if self._expired(flow, now_us):
                ended.append(self._end(key, self._reason(flow, now_us)))
        return ended

    def flush(self) -> list[Flow]:
        """End every flow (end of input)."""
        return [self._end(key, "end_of_capture") for key in list(self._flows)]

    def _expired(self, flow: Flow, now_us: int) -> bool:
        if flow.closed_us is not None and now_us - flow.closed_us >= CLOSE_LINGER_US:
            return True
        return now_us - flow.last_us >= self.idle_us or now_us - flow.first_us >= self.active_us

    def _reason(self, flow: Flow, now_us: int) -> str:
        if flow.closed_us is not None and now_us - flow.closed_us >= CLOSE_LINGER_US:
            return "tcp_close"
        return "idle_timeout" if now_us - flow.last_us >= self.idle_us else "active_timeout"

    def _evict_oldest(self) -> Flow:
        self.evicted += 1
        return self._end(next(iter(self._flows)), "evicted")

    def _end(self, key: FlowKey, reason: str) -> Flow:
        flow, _ = self._flows.pop(key)
        flow.end_reason = reason
        return flow
