"""No subscriber identifier from the 5G test captures reaches any sink in clear.

The identifiers are what the analyzers find in clear (fields the schema marks ``subscriber_id``
and identifiers written inside text such as SBI paths); then ``liaowang replay`` with the default
configuration writes the same captures to JSON lines and to a SQLite store, and neither may
contain any of them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from liaowang.schema import SUBSCRIBER_IDS
from pipelines.enrich.subscribers import IN_TEXT
from tests.utils.pcaps import captures_with, run_sensor

PROTOCOLS = ("ngap", "gtpv2", "gtpv1-c", "http2", "diameter")
CAPTURES = sorted({path for protocol in PROTOCOLS for path in captures_with(protocol)})
SHORTEST = 6   # shorter values (a 4-digit TMSI, say) could occur by chance in unrelated bytes


def leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items()
                for leaf in leaves(value, f"{prefix}{key}.")]
    if isinstance(node, list):
        return [leaf for item in node for leaf in leaves(item, prefix)]
    return [(prefix.rstrip("."), node)]


def clear_identifiers() -> set[str]:
    found: set[str] = set()
    for path in CAPTURES:
        for event in run_sensor(path, strict=False):
            for name, value in leaves(event):
                if name in SUBSCRIBER_IDS and len(str(value)) >= SHORTEST:
                    found.add(str(value))
                elif isinstance(value, str):
                    found.update(m.group(0) for m in IN_TEXT.finditer(value))
    return found


def distinctive(value: str) -> bool:
    """Whether finding ``value`` means finding the identifier: a run of one digit (a zeroed
    TMSI, say) also occurs in any store's numbers, such as an hour in microseconds."""
    return len(set(value)) > 1


@pytest.fixture(scope="module")
def identifiers() -> set[str]:
    return clear_identifiers()


def test_the_captures_carry_subscriber_identifiers(identifiers: set[str]) -> None:
    assert len(CAPTURES) >= 10
    assert any(value.isdigit() and len(value) == 15 for value in identifiers)   # an IMSI


def test_no_clear_identifier_reaches_json_lines_or_the_store(identifiers: set[str],
                                                             tmp_path: Path) -> None:
    config = tmp_path / "liaowang.yml"
    config.write_text(f"privacy:\n  key_file: {tmp_path / 'pseudonym.key'}\n")
    out, db = tmp_path / "events.jsonl", tmp_path / "events.db"
    liaowang = Path(sys.executable).with_name("liaowang")
    done = subprocess.run([liaowang, "replay", *map(str, CAPTURES), "--config", str(config),
                           "--jsonl", str(out), "--store", f"sqlite:///{db}"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    written = out.read_text()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("events.db*")).decode(
        "utf-8", "replace")
    assert "pn:" in written and "pn:" in stored
    leaked = sorted(value for value in identifiers if distinctive(value)
                    and (value in written or value in stored))
    assert leaked == []
