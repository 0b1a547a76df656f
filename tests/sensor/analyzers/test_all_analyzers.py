"""Every analyzer module is registered, and none raises or stalls on hostile bytes."""

from __future__ import annotations

import importlib
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
    """Each module exports ``ANALYZER`` (or ``ANALYZERS``, one per transport), all registered;
    modules named ``_*`` are parts shared by analyzers (CIP under EtherNet/IP, say)."""
    exported: list = []
    for info in pkgutil.iter_modules(sensor.analyzers.__path__):
        if info.name not in NOT_ANALYZERS and not info.name.startswith("_"):
            module = importlib.import_module(f"sensor.analyzers.{info.name}")
            specs = getattr(module, "ANALYZERS", None) or (module.ANALYZER,)
            assert all(spec.name for spec in specs), info.name
            exported += specs
    assert sorted(map(id, exported)) == sorted(map(id, ANALYZERS))


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
        state = spec.new_state() if spec.new_state else None
        for fields in spec.events(result.pdu, state):
            assert isinstance(fields, dict)
    if isinstance(result, NeedMore):
        assert result.needed > len(data)
