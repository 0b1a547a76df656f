"""PFCP value readers: the fast paths write what the general ones wrote."""

from __future__ import annotations

import ipaddress

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
)


@given(st.binary(min_size=4, max_size=4) | st.binary(min_size=16, max_size=16))
def test_addresses_read_as_ipaddress_writes_them(raw: bytes) -> None:
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
