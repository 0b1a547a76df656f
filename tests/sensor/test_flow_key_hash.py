"""The flow key's hash: the same for both directions of a flow, different for different flows,
and spread over the low bits that the flow table's index is addressed by."""

from __future__ import annotations

import numpy as np

from sensor.columnar import KEY_LEN, NO_VLAN, fill_key

V4_MAPPED = np.array([0] * 10 + [0xFF, 0xFF], np.uint8)


def v4(a: int, b: int, c: int, d: int) -> np.ndarray:
    return np.concatenate([V4_MAPPED, np.array([a, b, c, d], np.uint8)])


def key_hash(src: np.ndarray, sport: int, dst: np.ndarray, dport: int, proto: int = 6,
             vlan: int = NO_VLAN) -> int:
    keys = np.zeros((1, KEY_LEN), np.uint8)
    return int(fill_key(keys, 0, src, sport, dst, dport, proto, vlan)[1])


def test_both_directions_of_a_flow_have_one_hash() -> None:
    client, server = v4(10, 45, 0, 7), v4(192, 0, 2, 1)
    assert key_hash(client, 51000, server, 443) == key_hash(server, 443, client, 51000)


def test_subscribers_of_one_network_spread_over_the_table() -> None:
    """65,536 subscribers of a /16 talking to one server, each over two ports and both
    protocols: every flow its own hash, and the low 12 bits (a table of 4,096 slots) filled
    evenly."""
    server = v4(192, 0, 2, 1)
    hashes = np.array([key_hash(v4(10, 45, high, low), sport, server, 443, proto)
                       for high in range(256) for low in range(256)
                       for sport, proto in ((40000, 6), (40001, 17))], np.uint64)
    assert len(np.unique(hashes)) == len(hashes)
    buckets = np.bincount((hashes & np.uint64(4095)).astype(np.int64), minlength=4096)
    # as random: the counts' variance near their mean (32), as a Poisson count's is
    assert 0.8 < buckets.var() / buckets.mean() < 1.25


def test_every_byte_of_the_key_reaches_the_low_bits() -> None:
    """Flows that differ in the first octet of an address, or in the high byte of a port,
    land in different slots of a 4,096-slot table (a hash that only multiplies keeps such
    differences in its high bits)."""
    server = v4(192, 0, 2, 1)
    by_octet = {key_hash(v4(octet, 45, 0, 7), 40000, server, 443) & 4095 for octet in range(256)}
    by_port = {key_hash(v4(10, 45, 0, 7), high << 8, server, 443) & 4095 for high in range(256)}
    assert len(by_octet) > 230 and len(by_port) > 230     # 248 expected of random slots


def test_keys_that_differ_in_one_field_only_differ_in_hash() -> None:
    base = (v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 2000, 17, NO_VLAN)
    variants = [base, (base[0], 1001, *base[2:]), (*base[:3], 2001, *base[4:]),
                (*base[:4], 6, NO_VLAN), (*base[:5], 100), (v4(10, 0, 1, 1), *base[1:])]
    assert len({key_hash(*variant) for variant in variants}) == len(variants)
