"""Community ID hashes agree with the reference implementation (the ``communityid`` package)."""

from __future__ import annotations

import socket

import communityid
from hypothesis import given
from hypothesis import strategies as st

from sensor.community_id import community_id

REFERENCE = communityid.CommunityID()
v4 = st.binary(min_size=4, max_size=4)
v6 = st.binary(min_size=16, max_size=16)
ports = st.integers(0, 65535)


def reference(proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> str:
    family = socket.AF_INET if len(src) == 4 else socket.AF_INET6
    with_ports = proto in (1, 6, 17, 58, 132)
    return REFERENCE.calc(communityid.FlowTuple(
        proto, socket.inet_ntop(family, src), socket.inet_ntop(family, dst),
        sport if with_ports else None, dport if with_ports else None))


@given(st.sampled_from([6, 17, 132, 1, 47, 50]), v4, ports, v4, ports)
def test_ipv4_flows(proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> None:
    if proto == 1:
        sport, dport = sport % 256, dport % 256
    assert community_id(proto, src, sport, dst, dport) == reference(proto, src, sport, dst, dport)


@given(st.sampled_from([6, 17, 132, 58, 0x73]), v6, ports, v6, ports)
def test_ipv6_flows(proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> None:
    if proto == 58:
        sport, dport = sport % 256, dport % 256
    assert community_id(proto, src, sport, dst, dport) == reference(proto, src, sport, dst, dport)


def test_both_directions_hash_alike() -> None:
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    assert community_id(6, a, 40000, b, 502) == community_id(6, b, 502, a, 40000)
