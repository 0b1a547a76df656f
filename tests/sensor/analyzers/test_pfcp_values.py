"""PFCP value readers: the fast paths write what the general ones wrote."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor.analyzers.pfcp import (
    APPLY_ACTION_FLAGS,
    OUTER_HEADER_FLAGS,
    REPORTING_TRIGGER_FLAGS,
    _ip,
    flag_names,
    nest,
    ntp_time,
)


@given(st.binary(min_size=4, max_size=4) | st.binary(min_size=16, max_size=16))
def test_addresses_read_as_ipaddress_writes_them(raw: bytes) -> None:
    assert _ip(raw) == str(ipaddress.ip_address(raw))


# IPv6 addresses made of the 16-bit groups that matter to the text form: runs of zeros (the
# "::"), behind the prefixes of IPv4-compatible and IPv4-mapped addresses (a dotted quad or not).
GROUPS = st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x0102]) | st.integers(0, 0xFFFF)
PREFIXES = st.sampled_from([(), (0,) * 4, (0,) * 5, (0,) * 5 + (0xFFFF,), (0,) * 6, (0,) * 7])


@given(PREFIXES.flatmap(lambda prefix: st.lists(GROUPS, min_size=8 - len(prefix),
                                                 max_size=8 - len(prefix))
                        .map(lambda rest: [*prefix, *rest])))
def test_ipv6_addresses_with_zero_runs_and_embedded_ipv4_read_as_ipaddress_writes_them(
        groups: list[int]) -> None:
    raw = b"".join(group.to_bytes(2, "big") for group in groups)
    assert _ip(raw) == str(ipaddress.ip_address(raw))


@pytest.mark.parametrize("text", ["::ffff:1.2.3.4", "::1.2.3.4", "::1", "::", "1::",
                                  "::ffff:0:0", "0:0:0:0:0:1:0:0", "2001:db8::1:0:0:1"])
def test_ipv6_special_forms_read_as_ipaddress_writes_them(text: str) -> None:
    raw = ipaddress.IPv6Address(text).packed
    assert _ip(raw) == str(ipaddress.ip_address(raw))


@pytest.mark.parametrize("size", [0, 3, 5, 15, 17])
def test_an_address_of_another_size_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="truncated"):
        _ip(bytes(size))


def flag_names_by_hand(value: bytes, table: tuple[str, ...]) -> list[str]:
    return [name for octet, row in zip(value, table, strict=False)
            for bit, name in enumerate(row.split()) if octet >> bit & 1 and name != "-"]


@given(st.binary(max_size=4),
       st.sampled_from([APPLY_ACTION_FLAGS, OUTER_HEADER_FLAGS, REPORTING_TRIGGER_FLAGS]))
def test_flag_names_are_the_set_bits_in_table_order(value: bytes,
                                                    table: tuple[str, ...]) -> None:
    assert flag_names(value, table) == flag_names_by_hand(value, table)


def test_nest_keeps_plain_and_dotted_names_in_order() -> None:
    nested = nest({"cause": 1, "create_pdr.pdr_id": [1], "seid": 7, "create_pdr.precedence": [2]})
    assert nested == {"cause": 1, "create_pdr": {"pdr_id": [1], "precedence": [2]}, "seid": 7}
    assert list(nested) == ["cause", "create_pdr", "seid"]


def ntp_time_by_hand(seconds: int) -> str:
    if not seconds & 0x8000_0000:
        seconds += 1 << 32
    moment = datetime(1900, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@given(st.integers(0, 0xFFFF_FFFF) | st.sampled_from([0x7FFF_FFFF, 0x8000_0000, 2_208_988_800]))
def test_ntp_times_read_as_datetime_arithmetic_writes_them(seconds: int) -> None:
    assert ntp_time(seconds) == ntp_time_by_hand(seconds)
