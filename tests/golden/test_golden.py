"""Each golden case's capture still makes exactly its expected events."""

from __future__ import annotations

from pathlib import Path

import pytest

from liaowang.schema import validate
from tests.golden.cases import as_lines, capture_of, case_dirs, golden_events


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_golden_case(case: Path) -> None:
    events = golden_events(capture_of(case))
    assert all(not validate(event) for event in events)
    expected = (case / "expected.jsonl").read_text().splitlines()
    assert as_lines(events) == expected, \
        f"regenerate with: python -m tests.golden.regen {case.name} (and review the diff)"
