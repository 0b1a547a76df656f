"""The sensor engine: frames in, events out.

A block of frames is decoded into columns at once (:mod:`sensor.columnar`) and counted into
flows at once (:mod:`sensor.flows`); only the packets of flows an analyzer listens to take the
per-packet path (reassembly, then the analyzer), and only what the batch decoder could not
decode goes to the dpkt slow path (:mod:`sensor.decode`).

>>> sensor = Sensor("tap-1")
>>> sensor.process([]) + sensor.finish()
[]
"""

from __future__ import annotations

import socket
import struct
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from liaowang.config import SensorSettings
from liaowang.events import ID_SEPARATOR as SEP
from liaowang.events import inserted, iso_timestamp, joined_event_id
from sensor.analyzers import ANALYZERS, AnalyzerSpec, named
from sensor.capture import Frame, FrameBlock
from sensor.columnar import (
    FRAGMENT,
    GTPU_PORT,
    LINKTYPE_RAW,
    MALFORMED,
    NO_VLAN,
    NOT_IP,
    OK,
    SLOW,
    Columns,
    _gtpu_inner,
    decode_block,
    decode_datagram,
    fill_key,
)
from sensor.community_id import PORT_PROTOCOLS, community_id
from sensor.decode import TRANSPORTS, Packet, decode
from sensor.dispatch import AppOutput, AppSession, Dispatcher
from sensor.flows import FlowRecord, FlowTable, address_text, tcp_flag_letters
from sensor.fragments import Reassembler
from sensor.weirds import WeirdSampler

Event = dict[str, Any]
EXPIRE_EVERY_NS = 1_000_000_000


@dataclass(slots=True)
class SensorStats:
    packets: int = 0
    bytes: int = 0
    malformed: int = 0
    events: int = 0
    flows: int = 0
    evicted_flows: int = 0
    weirds_unreported: int = 0      # counted, but left out by the sampling
    first_us: int = 0
    last_us: int = 0


@dataclass(slots=True)
class Endpoints:
    """A flow's ``source``, ``destination`` and ``network`` fields, oriented from the flow's
    source, built once per flow: each event of the flow gets copies of these dicts, cheaper than
    building them again (later stages may change an event's dicts, so events never share one)."""

    source: dict[str, Any]
    destination: dict[str, Any]
    network: dict[str, Any]          # without the VLAN, which is a dict of its own
    vlan: int | None

    @property
    def community_id(self) -> str:
        return self.network["community_id"]

    @classmethod
    def of(cls, flow: FlowRecord) -> Endpoints:
        cid = community_id(flow.proto, flow.src, flow.sport, flow.dst, flow.dport)
        source: dict[str, Any] = {"ip": address_text(flow.src)}
        destination: dict[str, Any] = {"ip": address_text(flow.dst)}
        if flow.proto in PORT_PROTOCOLS:
            source["port"], destination["port"] = flow.sport, flow.dport
        if flow.mac is not None:       # of the flow's first frame: source, destination
            source["mac"], destination["mac"] = flow.mac
        network = {"transport": TRANSPORTS.get(flow.proto, str(flow.proto)), "community_id": cid}
        return cls(source, destination, network, flow.vlan)

    def copy_to(self, event: Event, sender_is_source: bool) -> None:
        """Put copies of the fields into an event whose sender is the flow's source or not."""
        if sender_is_source:
            event["source"], event["destination"] = self.source.copy(), self.destination.copy()
        else:
            event["source"], event["destination"] = self.destination.copy(), self.source.copy()
        network = event["network"] = self.network.copy()
        if self.vlan is not None:
            network["vlan"] = {"id": self.vlan}

    def move_to(self, event: Event) -> None:
        """Hand the fields themselves to the flow's own event, the last use of this object."""
        event["source"], event["destination"], event["network"] = \
            self.source, self.destination, self.network
        if self.vlan is not None:
            self.network["vlan"] = {"id": self.vlan}


@dataclass(slots=True)
class FlowApp:
    """The analyzer session of one flow, with the endpoints its events carry and the number of
    events it has made: the next one's place in the flow, a part of its id that depends only on
    the flow's packets, not on how the input was cut into blocks."""

    session: AppSession
    endpoints: Endpoints
    outputs: int = 0
    weirds: dict[str, int] | None = None    # weirds of the flow so far, by name


class Sensor:
    """Decodes frames, meters flows and runs analyzers; returns events in batches."""

    def __init__(self, observer: str, *, idle_timeout_s: float = 60.0,
                 active_timeout_s: float = 1800.0, max_flows: int = 1_000_000,
                 analyzers: tuple[AnalyzerSpec, ...] = ANALYZERS, strict: bool = False,
                 pcap_file: str | None = None, weirds: WeirdSampler | None = None) -> None:
        self.observer = observer
        self.weirds = weirds or WeirdSampler()
        self.pcap_file = pcap_file
        # a capture cut into files (next_file): each file's name, and the frames before it
        self._file_names, self._file_starts = [pcap_file], [0]
        self.flows = FlowTable(idle_timeout_s, active_timeout_s, max_flows)
        self.dispatcher = Dispatcher(analyzers, strict=strict)
        self.analyzer_ports = self.dispatcher.port_keys()
        self.apps: dict[int, FlowApp | None] = {}
        self.fragments = Reassembler()
        self.stats = SensorStats()
        self._tick = -1         # the last whole second of packet time reached (-1: none yet)
        self._now_ns = 0        # the latest packet time (or, live, clock time) seen

    @classmethod
    def from_settings(cls, settings: SensorSettings, pcap_file: str | None = None) -> Sensor:
        flows = settings.flows
        return cls(settings.name, idle_timeout_s=flows.idle_timeout,
                   active_timeout_s=flows.active_timeout, max_flows=flows.max_flows,
                   analyzers=named(settings.analyzers), pcap_file=pcap_file,
                   weirds=WeirdSampler.from_settings(settings.weirds))

    def next_file(self, name: str, frames_before: int) -> None:
        """Go on into the next file of a capture cut into several (rotated by the tool that
        wrote it): flows, sessions and timeouts continue. Its frames come numbered on from
        ``frames_before``, so event ids are those of the uncut capture; events name the file
        of their frame, with its number in that file."""
        self._file_names.append(name)
        self._file_starts.append(frames_before)

    def load_analyzers(self) -> None:
        """Load what the analyzers would otherwise load on their first PDU (a second for NGAP):
        a live sensor does it before capturing, so that no first message stalls the ring."""
        for analyzer in self.dispatcher.analyzers:
            if analyzer.load is not None:
                analyzer.load()

    def process(self, frames: list[Frame]) -> list[Event]:
        return self.process_block(FrameBlock.from_frames(frames)) if frames else []

    def process_block(self, block: FrameBlock) -> list[Event]:
        """The events of a block, in the order of the packets that made them. Flows time out
        on a grid of packet time (every whole second), so the events and their order are the
        same however the input is cut into blocks."""
        if not len(block):
            return []
        events: list[Event] = []
        start, records = 0, block.records
        self._now_ns = max(self._now_ns, int(records["ts_ns"].max()))
        for cut, tick in self._ticks_passed(records["ts_ns"]):
            events += self._process_part(FrameBlock(block.buf, records[start:cut]))
            events += self._expire(tick)
            start = cut
        events += self._process_part(FrameBlock(block.buf, records[start:]))
        self.stats.events += len(events)
        return events

    def tick(self, now_ns: int) -> list[Event]:
        """Time passes without packets (a quiet live link): end the flows timed out by
        ``now_ns``, on the clock the capture stamps packets with."""
        tick = now_ns // EXPIRE_EVERY_NS
        events = self._expire(tick) if tick > self._tick else []
        self._now_ns = max(self._now_ns, now_ns)
        self.stats.events += len(events)
        return events

    def finish(self) -> list[Event]:
        """End every flow: the last events of the input. Flows that timed out by the last
        packet's time end with their timeout, as the next expiry would have ended them, however
        the input was cut into blocks; the others with the end of the capture."""
        timed_out = self._end_flows(self.flows.expire(self._now_ns)) if self._now_ns else []
        events = timed_out + self._end_flows(self.flows.flush())
        self.stats.events += len(events)
        return events

    def _count(self, records: np.ndarray, cols: Columns) -> None:
        stats = self.stats
        stats.packets += len(records)
        stats.bytes += int(records["wire_len"].sum())
        stats.malformed += int(np.count_nonzero(cols.status == MALFORMED))
        ts_us = records["ts_ns"] // 1000
        stats.first_us = stats.first_us or int(ts_us[0])
        stats.last_us = max(stats.last_us, int(ts_us.max()))

    def _ticks_passed(self, ts_ns: np.ndarray) -> list[tuple[int, int]]:
        """Where in a block packet time reaches a new second: (row, second) for each, the
        second that row is the first to reach (late packets move no time back)."""
        ticks = ts_ns // EXPIRE_EVERY_NS
        if self._tick < 0:
            self._tick = int(ticks[0])
        reached = np.maximum.accumulate(np.maximum(ticks, self._tick))
        cuts = np.flatnonzero(np.diff(reached, prepend=self._tick))
        return list(zip(cuts.tolist(), reached[cuts].tolist(), strict=True))

    def _process_part(self, part: FrameBlock) -> list[Event]:
        if not len(part):
            return []
        records = part.records
        cols = decode_block(np.frombuffer(part.buf, np.uint8), records)
        weirds, payloads = self._slow_path(part, cols)
        self._count(records, cols)
        slots, ended, ended_rows = self.flows.update(cols, records["ts_ns"],
                                                     records["wire_len"], records["number"])
        events, rows = self._analyze(part, cols, slots, payloads)
        flows = list(zip(ended_rows.tolist(), self._end_flows(ended), strict=True))
        return _in_packet_order(events, rows, flows + weirds)

    def _slow_path(self, block: FrameBlock, cols: Columns
                   ) -> tuple[list[tuple[int, Event]], dict]:
        """Decode with dpkt what the batch decoder left, filling in the same columns. Returns
        the weirds of undecodable packets, each with its row, and the payloads found."""
        weirds: list[tuple[int, Event]] = []
        payloads: dict[int, bytes] = {}
        for i in np.flatnonzero(cols.status == SLOW).tolist():
            packet = decode(block.frame(i))
            if packet.fragment is not None:
                payloads.update(self._reassemble(packet, cols, i))
                undecodable = bool(cols.status[i] == MALFORMED)
            elif undecodable := bool(packet.malformed):
                cols.status[i] = MALFORMED
            elif packet.proto < 0:
                cols.status[i] = NOT_IP
            elif (tunnelled := _gtpu_fragment(packet)) is not None:
                payloads.update(self._reassemble_tunnelled(packet, *tunnelled, cols, i))
            else:
                _fill_row(cols, i, packet)
                payloads[i] = packet.payload
            if undecodable and (weird := self._packet_weird(packet)):
                weirds.append((i, weird))
        return weirds, payloads

    def _reassemble_tunnelled(self, outer: Packet, inner: Packet, teid: int, qfi: int,
                              cols: Columns, i: int) -> dict[int, bytes]:
        """A GTP-U G-PDU carrying an inner IP fragment: the inner datagram is reassembled and
        metered as the tunnelled flow it belongs to, like any other G-PDU."""
        payloads = self._reassemble(inner, cols, i)
        cols.has_mac[i] = False
        if cols.status[i] == OK:
            cols.tunnel[i], cols.teid[i], cols.qfi[i] = True, teid, qfi
            cols.outer[i, :16] = _address_bytes(outer.src)
            cols.outer[i, 16:] = _address_bytes(outer.dst)
        return payloads

    def _reassemble(self, packet: Packet, cols: Columns, i: int) -> dict[int, bytes]:
        """Hold a fragment; on the one that completes its datagram, decode the datagram whole
        (tunnels included) into row ``i``."""
        assert packet.fragment is not None
        segment = self.fragments.add(packet.fragment, packet.ts_us)
        if segment is None:
            cols.status[i] = FRAGMENT
            return {}
        datagram = _datagram(packet, segment)
        whole = decode_datagram(datagram)
        cols.copy_row(i, whole, 0)
        if whole.tunnel[0]:     # the frame's MACs are the tunnel's outer endpoints'
            cols.has_mac[i] = False
        if whole.status[0] != OK:
            cols.status[i] = MALFORMED
            packet.malformed = "ip_reassembled_datagram_undecodable"
            return {}
        start = int(whole.pay_off[0])
        return {i: datagram[start:start + int(whole.pay_len[0])]}

    def _analyze(self, block: FrameBlock, cols: Columns, slots: np.ndarray,
                 payloads: dict[int, bytes]) -> tuple[list[Event], list[int]]:
        """The per-packet path, for the packets of flows an analyzer listens to: the events,
        and the row of the packet that made each."""
        proto = cols.proto.astype(np.int64) << 16
        wanted = (cols.status == OK) & (_listened(self.analyzer_ports, proto | cols.dport)
                                        | _listened(self.analyzer_ports, proto | cols.sport))
        rows = np.flatnonzero(wanted)
        made_at: list[int] = []
        if not len(rows):
            return [], made_at
        records, buf = block.records[rows], block.buf
        slot_of = slots[rows]
        from_source = cols.a_is_src[rows] == self.flows.arrays.src_is_a[slot_of]
        events: list[Event] = []
        columns = zip(rows.tolist(), slot_of.tolist(), records["number"].tolist(),
                      records["ts_ns"].tolist(), records["wire_len"].tolist(),
                      cols.proto[rows].tolist(), cols.tcp_flags[rows].tolist(),
                      cols.seq[rows].tolist(), cols.ack[rows].tolist(),
                      cols.pay_off[rows].tolist(), cols.pay_len[rows].tolist(),
                      from_source.tolist(), strict=True)
        for (row, slot, number, ts_ns, wire_len, proto_, flags, seq, ack, start, length,
             forward) in columns:
            app = self.apps[slot] if slot in self.apps else self._attach(slot)
            if app is None:
                continue
            payload = payloads[row] if row in payloads else buf[start:start + length]
            packet = Packet(number, ts_ns // 1000, wire_len, proto=proto_, tcp_flags=flags,
                            seq=seq, ack=ack, payload=payload)
            for output in app.session.feed(packet, forward):
                event = self._app_event(app, packet.ts_us, output)
                if event is not None:
                    events.append(event)
                    made_at.append(row)
        return events, made_at

    def _attach(self, slot: int) -> FlowApp | None:
        flow = self.flows.record(slot)
        session = self.dispatcher.session_for(flow.proto, flow.sport, flow.dport)
        app = FlowApp(session, Endpoints.of(flow)) if session else None
        self.apps[slot] = app
        return app

    def _end_flows(self, slots: np.ndarray) -> list[Event]:
        events = [self._flow_event(flow) for flow in self.flows.records(slots)]
        for slot, event in zip(slots.tolist(), events, strict=True):
            app = self.apps.pop(slot, None)
            if app is not None and app.weirds:
                event["flow"]["weird_count"] = sum(app.weirds.values())
        self.flows.release(slots)
        self.stats.flows += len(events)
        self.stats.evicted_flows = self.flows.evicted
        return events

    def _expire(self, tick: int) -> list[Event]:
        """End the flows timed out when packet time reaches second ``tick``."""
        self._tick = tick
        return self._end_flows(self.flows.expire(tick * EXPIRE_EVERY_NS))

    def _base(self, dataset: str, ts_us: int, timestamp: str, id_tail: str, frame: int) -> Event:
        """The fields every event starts with, in one literal. ``id_tail``: the event's own id
        parts after the observer, dataset and time, joined with ``SEP`` (see joined_event_id).
        Without a capture file ``pcap.frame`` comes later: the caller adds it after the
        endpoints, where it always was."""
        observer = self.observer
        event_id = joined_event_id(f"{observer}{SEP}{dataset}{SEP}{ts_us}{SEP}{id_tail}")
        event: Event = {"@timestamp": timestamp,
                        "event": {"kind": "event", "dataset": dataset, "id": event_id},
                        "observer": {"name": observer}}
        if self.pcap_file:
            event["pcap"] = ({"file": self.pcap_file, "frame": frame}
                             if len(self._file_starts) == 1 else self._in_file(frame))
        return event

    def _in_file(self, frame: int) -> dict[str, Any]:
        """``pcap`` of a rotated capture: the file that holds ``frame``, its number there."""
        at = bisect_right(self._file_starts, frame - 1) - 1
        return {"file": self._file_names[at], "frame": frame - self._file_starts[at]}

    def _frame_after_endpoints(self, event: Event, frame: int) -> None:
        """Without a capture file, ``pcap`` holds the frame alone and comes after the endpoint
        fields (with one, :meth:`_base` put it before them)."""
        if not self.pcap_file:
            event["pcap"] = {"frame": frame}

    def _app_event(self, app: FlowApp, ts_us: int, output: AppOutput) -> Event | None:
        """The event of an analyzer's output: none for a weird the sampling leaves out."""
        dataset = _dataset(output)
        ends, frame, index = app.endpoints, output.frame, app.outputs
        app.outputs = index + 1
        count = self._flow_weird_count(app, output) if dataset == "weird" else 0
        if count and not self._reported(count):
            return None
        event = self._base(dataset, ts_us, iso_timestamp(ts_us),
                           f"{ends.community_id}{SEP}{frame}{SEP}{index}", frame)
        ends.copy_to(event, output.to_server == app.session.server_is_destination)
        self._frame_after_endpoints(event, frame)
        if output.weird:
            event["weird"] = _weird_fields(output.weird, output.analyzer, output.detail)
        else:
            _merge(event, output.fields or {})
        if count:
            event["weird"]["count"] = count
        return event

    def _flow_weird_count(self, app: FlowApp, output: AppOutput) -> int:
        """Counts a weird of the flow: its ordinal among the flow's weirds of its name."""
        name = output.weird or str((output.fields or {}).get("weird", {}).get("name"))
        if app.weirds is None:
            app.weirds = {}
        app.weirds[name] = count = app.weirds.get(name, 0) + 1
        return count

    def _reported(self, count: int) -> bool:
        if self.weirds.reports(count):
            return True
        self.stats.weirds_unreported += 1
        return False

    def _packet_weird(self, packet: Packet) -> Event | None:
        ts_us, frame, name = packet.ts_us, packet.frame, str(packet.malformed)
        count = self.weirds.packet_count(name, ts_us * 1000)
        if not self._reported(count):
            return None
        event = self._base("weird", ts_us, iso_timestamp(ts_us), f"frame{SEP}{frame}", frame)
        if packet.src:
            event["source"] = {"ip": packet.src}
            event["destination"] = {"ip": packet.dst}
        self._frame_after_endpoints(event, frame)
        event["weird"] = _weird_fields(name, "decode") | {"count": count}
        return event

    def _flow_event(self, flow: FlowRecord) -> Event:
        ends = Endpoints.of(flow)
        first_us, frame = flow.first_ns // 1000, flow.first_frame
        start = iso_timestamp(first_us)           # also the event's @timestamp
        event = self._base("flow", first_us, start, f"{ends.community_id}{SEP}{frame}", frame)
        meta = event["event"]
        meta["start"], meta["end"] = start, iso_timestamp(flow.last_ns // 1000)
        meta["duration"] = flow.last_ns - flow.first_ns
        ends.move_to(event)
        _add_counts(event, flow)
        self._frame_after_endpoints(event, frame)
        event["flow"] = {"end_reason": flow.end_reason}
        if flow.proto == 6:
            event["flow"]["tcp_flags"] = tcp_flag_letters(flow.tcp_flags)
        if flow.teid is not None:
            event["gtp"] = _tunnel_fields(flow)
        return event


def _in_packet_order(events: list[Event], rows: list[int],
                     others: list[tuple[int, Event]]) -> list[Event]:
    """``events``, made at ``rows`` (ascending), with ``others`` (row, event) put in: each
    before the events of its row (a flow ends before the packet that ended it is counted)."""
    others.sort(key=itemgetter(0))
    return inserted(events, [(bisect_left(rows, row), event) for row, event in others])


def _listened(port_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which of ``keys`` (``proto << 16 | port``) are in the sorted ``port_keys``: a binary
    search, a third of what ``np.isin`` takes (it sorts the keys too)."""
    if not len(port_keys):
        return np.zeros(len(keys), np.bool_)
    at = np.searchsorted(port_keys, keys)
    at[at == len(port_keys)] = 0
    return port_keys[at] == keys


def _datagram(packet: Packet, segment: bytes) -> bytes:
    """A minimal IP header in front of a reassembled transport segment."""
    if ":" in packet.src:
        header = struct.pack("!IHBB", 6 << 28, len(segment), packet.proto, 64)
        return header + _address_bytes(packet.src).tobytes() + \
            _address_bytes(packet.dst).tobytes() + segment
    header = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(segment), 0, 0, 64, packet.proto, 0)
    return header + socket.inet_aton(packet.src) + socket.inet_aton(packet.dst) + segment


def _fill_row(cols: Columns, i: int, packet: Packet) -> None:
    """Put a packet decoded by the slow path into row ``i`` of the columns."""
    src, dst = _address_bytes(packet.src), _address_bytes(packet.dst)
    vlan = NO_VLAN if packet.vlan is None else packet.vlan
    cols.a_is_src[i], cols.hash[i] = fill_key(cols.key, i, src, packet.sport, dst,
                                              packet.dport, packet.proto, vlan)
    cols.status[i], cols.proto[i] = OK, packet.proto
    cols.sport[i], cols.dport[i] = packet.sport, packet.dport
    cols.tcp_flags[i], cols.seq[i], cols.ack[i] = packet.tcp_flags, packet.seq, packet.ack


def _gtpu_fragment(packet: Packet) -> tuple[Packet, int, int] | None:
    """(inner packet, TEID, QFI) when ``packet`` is a G-PDU whose inner IP packet is a fragment
    (the batch decoder leaves those to this path)."""
    if packet.proto != 17 or GTPU_PORT not in (packet.sport, packet.dport):
        return None
    gtp = np.frombuffer(packet.payload, np.uint8)
    start, end, teid, qfi = _gtpu_inner(gtp, 0, len(gtp))
    if start < 0:
        return None
    data = bytes(packet.payload[start:end])
    inner = decode(Frame(packet.frame, packet.ts_us * 1000, LINKTYPE_RAW, len(data), data))
    return (inner, int(teid), int(qfi)) if inner.fragment is not None else None


def _address_bytes(text: str) -> np.ndarray:
    if ":" in text:
        return np.frombuffer(socket.inet_pton(socket.AF_INET6, text), np.uint8)
    raw = bytes(10) + b"\xff\xff" + socket.inet_aton(text)
    return np.frombuffer(raw, np.uint8)


def _dataset(output: AppOutput) -> str:
    """``weird``, the dataset the fields name, or the analyzer's own."""
    if output.weird:
        return "weird"
    meta = output.fields.get("event") if output.fields else None
    return meta.get("dataset", output.analyzer) if meta else output.analyzer


def _add_counts(event: Event, flow: FlowRecord) -> None:
    """Packets and bytes of a flow, per direction and in all, after its endpoint fields."""
    (forward, backward), (forward_bytes, backward_bytes) = flow.packets, flow.bytes
    event["source"]["packets"], event["source"]["bytes"] = forward, forward_bytes
    event["destination"]["packets"], event["destination"]["bytes"] = backward, backward_bytes
    network = event["network"]
    network["packets"], network["bytes"] = forward + backward, forward_bytes + backward_bytes


def _tunnel_fields(flow: FlowRecord) -> dict[str, Any]:
    assert flow.teid is not None and flow.outer is not None
    fields: dict[str, Any] = {"teid": flow.teid[0] or flow.teid[1],
                              "outer_source_ip": address_text(flow.outer[0]),
                              "outer_destination_ip": address_text(flow.outer[1])}
    if flow.teid[0] and flow.teid[1]:
        fields["reverse_teid"] = flow.teid[1]
    if flow.qfi is not None:
        fields["qfi"] = flow.qfi
    return fields


def _weird_fields(name: str, analyzer: str, detail: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": name, "analyzer": analyzer}
    if detail:
        fields["detail"] = detail
    return fields


def _merge(event: Event, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(event.get(key), dict):
            event[key].update(value)
        else:
            event[key] = value
