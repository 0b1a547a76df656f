"""Every analyzer module is registered, and none raises or stalls on hostile bytes."""

from __future__ import annotations

import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sensor.analyzers
from liaowang.schema import DATASETS
from sensor.analyzers import ANALYZERS
from sensor.analyzers.base import Malformed, NeedMore, Parsed

NOT_ANALYZERS = {"base"}


def test_every_analyzer_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(sensor.analyzers.__path__)} - NOT_ANALYZERS
    assert modules == {spec.name for spec in ANALYZERS}


@pytest.mark.parametrize("spec", ANALYZERS, ids=lambda s: s.name)
def test_every_analyzer_has_a_schema_fragment(spec) -> None:
    assert spec.name in DATASETS


@pytest.mark.parametrize("spec", ANALYZERS, ids=lambda s: s.name)
@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=600), to_server=st.booleans())
def test_random_bytes_never_raise_and_always_progress(spec, data: bytes, to_server: bool) -> None:
    spec.probe(data)
    result = spec.parse(data, to_server)
    assert isinstance(result, Parsed | NeedMore | Malformed)
    if isinstance(result, Parsed):
        assert 0 < result.consumed <= len(data)
        spec.to_event(result.pdu)
    if isinstance(result, NeedMore):
        assert result.needed > len(data)
