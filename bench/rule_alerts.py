"""Alerts of the shipped rule pack on the public captures: the false-positive check.

Every capture of the manifest in ../shared/pcaps is replayed on its own (the first
``--max-frames`` frames of the big ones) through the sensor and a fresh signature detector, as
``liaowang replay`` would; the table printed says, per family of rules, how many rules there are
and how many alerts each raised on which captures. These captures are meant as normal
traffic, although some record attacks or tests: each rule that fires on them must say why in its
``falsepositives`` notes (``tests/detection/test_rule_pack_clean.py`` holds the pack to that).

    python -m bench.rule_alerts [--pcaps DIR] [--max-frames N] [--config FILE] [--only TEXT]
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from detection.sigma import SigmaDetector
from detection.sigma.loader import SHIPPED_RULES, RulePack, load_pack, rule_key
from liaowang.config import load_config
from sensor.capture import CaptureError, CaptureFile
from sensor.engine import Sensor

ROOT = Path(__file__).resolve().parents[1]
PCAPS = Path(os.environ.get("LIAOWANG_PCAPS", ROOT.parent / "shared" / "pcaps"))
BLOCK = 4096


@dataclass
class RuleTally:
    """One rule's alerts: how many, and on which captures."""

    name: str
    family: str
    alerts: int = 0
    captures: collections.Counter[str] = field(default_factory=collections.Counter)


def capture_alerts(path: Path, max_frames: int, pack: RulePack, lists: dict | None = None
                   ) -> list[dict]:
    """The alerts of ``pack`` over the first ``max_frames`` frames of one capture."""
    sensor, detector = Sensor("fp-check", pcap_file=path.name), SigmaDetector(pack, lists=lists)
    alerts: list[dict] = []
    for events in _event_batches(sensor, path, max_frames):
        alerts += detector.process(events)
    return alerts + detector.finish()


def _event_batches(sensor: Sensor, path: Path, max_frames: int) -> Iterator[list[dict]]:
    frames = 0
    try:
        for block in CaptureFile(path).blocks(BLOCK):
            yield sensor.process_block(block)
            frames += BLOCK
            if frames >= max_frames:
                break
    except CaptureError:
        pass  # a truncated capture: what was read counts, as in `liaowang replay`
    yield sensor.finish()


def tallies() -> dict[str, RuleTally]:
    """An empty tally for every rule of the shipped pack, by rule id."""
    pack = load_pack([SHIPPED_RULES])
    return {rule_key(rule): RuleTally(str(rule.name or rule.title), _family(pack, rule))
            for rule in [*pack.rules, *pack.correlations]}


def _family(pack: object, rule: object) -> str:
    return pack.source_of(rule).path.parent.name  # type: ignore[attr-defined]


def count(rows: Sequence[dict[str, str]], pcaps: Path, max_frames: int,
          lists: dict | None = None) -> dict[str, RuleTally]:
    table, pack = tallies(), load_pack([SHIPPED_RULES])
    for number, row in enumerate(rows, start=1):
        alerts = capture_alerts(pcaps / row["path"], max_frames, pack, lists)
        print(f"[{number}/{len(rows)}] {row['path']}: {len(alerts)} alerts", file=sys.stderr)
        for alert in alerts:
            tally = table.get(alert["rule"]["id"])
            if tally is not None:
                tally.alerts += 1
                tally.captures[row["path"]] += 1
    return table


def report(table: dict[str, RuleTally], captures: int) -> str:
    lines = [f"{captures} captures", "", "family      rules  firing  alerts"]
    families = sorted({tally.family for tally in table.values()})
    for family in families:
        members = [t for t in table.values() if t.family == family]
        firing = [t for t in members if t.alerts]
        lines.append(f"{family:<11} {len(members):>5}  {len(firing):>6}  "
                     f"{sum(t.alerts for t in members):>6}")
    lines.append(f"{'total':<11} {len(table):>5}  {sum(1 for t in table.values() if t.alerts):>6}"
                 f"  {sum(t.alerts for t in table.values()):>6}")
    lines += ["", "alerts per rule (rules that fired; captures with most alerts first)"]
    for tally in sorted(table.values(), key=lambda t: (t.family, -t.alerts, t.name)):
        if tally.alerts:
            where = [f"{Path(p).name} {n}" for p, n in tally.captures.most_common(3)]
            if len(tally.captures) > 3:
                where.append(f"+{len(tally.captures) - 3} more")
            lines.append(f"{tally.family}/{tally.name}: {tally.alerts} on "
                         f"{len(tally.captures)} captures ({', '.join(where)})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pcaps", type=Path, default=PCAPS)
    parser.add_argument("--max-frames", type=int, default=20_000)
    parser.add_argument("--config", help="use this configuration's detection.lists")
    parser.add_argument("--only", default="", help="captures whose path contains this text")
    args = parser.parse_args()
    lists = dict(load_config(args.config).detection.lists) if args.config else None
    with (args.pcaps / "MANIFEST.tsv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t") if args.only in row["path"]]
    print(report(count(rows, args.pcaps, args.max_frames, lists), len(rows)))


if __name__ == "__main__":
    main()
