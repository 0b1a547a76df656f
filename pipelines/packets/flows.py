"""Which frames belong to a flow: the sensor's own batch decoder gives every frame its flow key,
which is compared with the key of the alert's endpoints.

A flow is named by its endpoints as events carry them (``source.ip``/``port``,
``destination.ip``/``port``, ``network.transport``); the comparison uses the decoder's canonical
key (both endpoints in order, IPv4 mapped into IPv6), so both directions match. Frames the batch
decoder leaves to the slow path (IP fragments, odd encapsulations) match no key; the alert's own
frames are added by number instead (:func:`select_frames`).

>>> flow = FlowKey.of({"source": {"ip": "10.0.0.2", "port": 502},
...                    "destination": {"ip": "10.0.0.1", "port": 49152},
...                    "network": {"transport": "tcp"}})
>>> flow.key[:16].hex(), flow.key[32:36].hex()
('00000000000000000000ffff0a000001', 'c00001f6')
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from liaowang.events import get_field
from sensor.capture import Frame, FrameBlock
from sensor.columnar import OK, decode_block

TRANSPORTS = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
PORT_PROTOCOLS = (6, 17, 132)


class NoFlow(ValueError):
    """The event names no flow: it lacks an address or a known transport."""


@dataclass(frozen=True, slots=True)
class FlowKey:
    """The first 38 bytes of the decoder's flow key (the VLAN id is not compared)."""

    key: bytes
    with_ports: bool

    @classmethod
    def of(cls, event: dict) -> FlowKey:
        """The flow of ``event``'s endpoints; :class:`NoFlow` when it has none."""
        proto = TRANSPORTS.get(str(get_field(event, "network.transport") or "").lower())
        src, dst = get_field(event, "source.ip"), get_field(event, "destination.ip")
        if proto is None or not src or not dst:
            raise NoFlow("the alert names no flow (addresses and a transport)")
        with_ports = proto in PORT_PROTOCOLS
        ends = sorted([(_address(src), _port(event, "source", with_ports)),
                       (_address(dst), _port(event, "destination", with_ports))])
        (a, a_port), (b, b_port) = ends
        return cls(a + b + struct.pack("!HHBB", a_port, b_port, proto, 0), with_ports)

    def matches(self, keys: np.ndarray) -> np.ndarray:
        """Which rows of the decoder's ``keys`` (n × 40 bytes) are this flow."""
        wanted = np.frombuffer(self.key, np.uint8)
        columns = np.r_[0:38] if self.with_ports else np.r_[0:32, 36]
        return np.all(keys[:, columns] == wanted[columns], axis=1)


def _address(text: str) -> bytes:
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise NoFlow(f"not an IP address: {text!r}") from exc
    if address.version == 4:
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    return address.packed


def _port(event: dict, side: str, with_ports: bool) -> int:
    port = get_field(event, f"{side}.port") if with_ports else 0
    return int(port) if isinstance(port, int) and 0 <= port <= 65535 else 0


def flow_frames(blocks: Iterable[FrameBlock], flow: FlowKey, frames: Iterable[int] = (),
                start_ns: int | None = None, end_ns: int | None = None) -> Iterator[Frame]:
    """The frames of ``blocks`` that are ``flow``'s (within the time range, when one is
    given) or numbered in ``frames``, in order."""
    numbers = np.array(sorted(set(frames)), np.int64)
    for block in blocks:
        records = block.records
        cols = decode_block(np.frombuffer(block.buf, np.uint8), records)
        wanted = (cols.status == OK) & flow.matches(cols.key)
        if start_ns is not None:
            wanted &= records["ts_ns"] >= start_ns
        if end_ns is not None:
            wanted &= records["ts_ns"] <= end_ns
        wanted |= np.isin(records["number"], numbers)
        for i in np.flatnonzero(wanted):
            yield block.frame(int(i))
