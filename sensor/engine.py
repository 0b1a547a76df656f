"""The sensor engine: frames in, events out.

>>> sensor = Sensor("tap-1")
>>> sensor.process([]) + sensor.finish()
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liaowang.config import SensorSettings
from liaowang.events import event_id, iso_timestamp, new_event
from sensor.analyzers import ANALYZERS, AnalyzerSpec
from sensor.capture import Frame
from sensor.decode import Packet, decode
from sensor.dispatch import AppOutput, Dispatcher
from sensor.flows import Flow, FlowTable

Event = dict[str, Any]


@dataclass(slots=True)
class SensorStats:
    packets: int = 0
    bytes: int = 0
    malformed: int = 0
    events: int = 0
    flows: int = 0
    evicted_flows: int = 0
    first_us: int = 0
    last_us: int = 0


class Sensor:
    """Decodes frames, meters flows and runs analyzers; returns events in batches."""

    def __init__(self, observer: str, *, idle_timeout_s: float = 60.0,
                 active_timeout_s: float = 1800.0, max_flows: int = 1_000_000,
                 analyzers: tuple[AnalyzerSpec, ...] = ANALYZERS, strict: bool = False,
                 pcap_file: str | None = None) -> None:
        self.observer = observer
        self.pcap_file = pcap_file
        self.flows = FlowTable(idle_timeout_s, active_timeout_s, max_flows)
        self.dispatcher = Dispatcher(analyzers, strict=strict)
        self.stats = SensorStats()

    @classmethod
    def from_settings(cls, settings: SensorSettings, pcap_file: str | None = None) -> Sensor:
        flows = settings.flows
        return cls(settings.name, idle_timeout_s=flows.idle_timeout,
                   active_timeout_s=flows.active_timeout, max_flows=flows.max_flows,
                   pcap_file=pcap_file)

    def process(self, frames: list[Frame]) -> list[Event]:
        events: list[Event] = []
        for frame in frames:
            events += self._process_frame(frame)
        if frames:
            events += [self._flow_event(f) for f in self.flows.expire(self.stats.last_us)]
        self.stats.events += len(events)
        return events

    def finish(self) -> list[Event]:
        """End every flow: the last events of the input."""
        events = [self._flow_event(flow) for flow in self.flows.flush()]
        self.stats.events += len(events)
        return events

    def _process_frame(self, frame: Frame) -> list[Event]:
        packet = decode(frame)
        self._count(packet)
        if packet.malformed:
            self.stats.malformed += 1
            return [self._packet_weird(packet)]
        if packet.proto < 0:
            return []
        flow, from_source, ended = self.flows.update(packet)
        events = [self._flow_event(f) for f in ended]
        for output in self.dispatcher.feed(flow, packet, from_source):
            events.append(self._app_event(flow, packet, output, len(events)))
        return events

    def _count(self, packet: Packet) -> None:
        stats = self.stats
        stats.packets += 1
        stats.bytes += packet.wire_len
        if not stats.first_us:
            stats.first_us = packet.ts_us
        stats.last_us = max(stats.last_us, packet.ts_us)

    def _base(self, dataset: str, ts_us: int, *id_parts: object) -> Event:
        event = new_event(dataset, ts_us, self.observer)
        event["event"]["id"] = event_id(self.observer, dataset, ts_us, *id_parts)
        if self.pcap_file:
            event["pcap"] = {"file": self.pcap_file}
        return event

    def _app_event(self, flow: Flow, packet: Packet, output: AppOutput, index: int) -> Event:
        dataset = "weird" if output.weird else output.analyzer
        event = self._base(dataset, packet.ts_us, flow.community_id(), output.frame, index)
        sender_is_source = output.to_server == flow.app.server_is_destination
        _endpoints(event, flow, sender_is_source)
        event.setdefault("pcap", {})["frame"] = output.frame
        if output.weird:
            event["weird"] = _weird_fields(output.weird, output.analyzer, output.detail)
        else:
            _merge(event, output.fields or {})
        return event

    def _packet_weird(self, packet: Packet) -> Event:
        event = self._base("weird", packet.ts_us, "frame", packet.frame)
        if packet.src:
            event["source"] = {"ip": packet.src}
            event["destination"] = {"ip": packet.dst}
        event.setdefault("pcap", {})["frame"] = packet.frame
        event["weird"] = _weird_fields(str(packet.malformed), "decode")
        return event

    def _flow_event(self, flow: Flow) -> Event:
        event = self._base("flow", flow.first_us, flow.community_id(), flow.first_frame)
        _endpoints(event, flow, True)
        event["event"].update(start=iso_timestamp(flow.first_us), end=iso_timestamp(flow.last_us),
                              duration=(flow.last_us - flow.first_us) * 1000)
        event["source"].update(packets=flow.packets[0], bytes=flow.bytes[0])
        event["destination"].update(packets=flow.packets[1], bytes=flow.bytes[1])
        event["network"].update(packets=sum(flow.packets), bytes=sum(flow.bytes))
        event.setdefault("pcap", {})["frame"] = flow.first_frame
        event["flow"] = {"end_reason": flow.end_reason}
        if flow.proto == 6:
            event["flow"]["tcp_flags"] = flow.flag_letters()
        self.stats.flows += 1
        return event


def _endpoints(event: Event, flow: Flow, sender_is_source: bool) -> None:
    a = {"ip": flow.src}
    b = {"ip": flow.dst}
    if flow.proto in (6, 17, 132):
        a["port"], b["port"] = flow.sport, flow.dport
    event["source"], event["destination"] = (a, b) if sender_is_source else (b, a)
    network: dict[str, Any] = {"transport": flow_transport(flow),
                               "community_id": flow.community_id()}
    if flow.vlan is not None:
        network["vlan"] = {"id": flow.vlan}
    event["network"] = network


def flow_transport(flow: Flow) -> str:
    return {6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "ipv6-icmp"}.get(
        flow.proto, str(flow.proto))


def _weird_fields(name: str, analyzer: str, detail: str | None = None) -> dict[str, str]:
    fields = {"name": name, "analyzer": analyzer}
    if detail:
        fields["detail"] = detail
    return fields


def _merge(event: Event, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(event.get(key), dict):
            event[key].update(value)
        else:
            event[key] = value
