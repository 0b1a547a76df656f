"""Write the expected events of golden cases, or add a case from ../shared/pcaps.

    python -m tests.golden.regen                      # every case
    python -m tests.golden.regen CASE...              # some cases
    python -m tests.golden.regen --add CASE PCAP      # a new case from a manifest capture
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.golden.cases import HERE, as_lines, capture_of, case_dirs, golden_events
from tests.utils.pcaps import PCAPS, manifest

MAX_CAPTURE_BYTES = 2_000_000   # golden files of bigger captures are too long to review


def regenerate(case: Path) -> int:
    lines = as_lines(golden_events(capture_of(case)))
    (case / "expected.jsonl").write_text("".join(line + "\n" for line in lines))
    return len(lines)


def add(name: str, pcap: Path) -> Path:
    relative = str(pcap.resolve().relative_to(PCAPS.resolve()))
    (row,) = [r for r in manifest() if r["path"] == relative]
    if pcap.stat().st_size > MAX_CAPTURE_BYTES:
        raise SystemExit(f"{pcap}: larger than {MAX_CAPTURE_BYTES} bytes; pick a smaller one")
    case = HERE / name
    case.mkdir()
    (case / "capture.txt").write_text(relative + "\n")
    (case / "README.md").write_text(
        f"# {name}\n\nThe capture (`capture.txt`, in ../shared/pcaps) is "
        f"`{row['source_path']}` from "
        f"https://github.com/{row['source_repo']} at commit `{row['commit']}` "
        f"(licence: {row['license_hint']}).\n\n{row['labels_or_notes'].split(' | ')[0]}\n\n"
        "`expected.jsonl` is written by `python -m tests.golden.regen "
        f"{name}`; never edit it by hand.\n")
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--add", nargs=2, metavar=("CASE", "PCAP"))
    args = parser.parse_args()
    cases = [add(args.add[0], Path(args.add[1]))] if args.add else \
        [HERE / name for name in args.cases] or case_dirs()
    for case in cases:
        print(f"{case.name}: {regenerate(case)} events")


if __name__ == "__main__":
    main()
