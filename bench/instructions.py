"""Instructions per unit of work, counted by valgrind's cachegrind, for comparing two versions.

On a shared machine the wall clock and even the CPU time of the same run differ by a third from
one minute to the next; the number of instructions executed moves far less. It is not a speed
(cache misses and branch mispredictions do not count), but a change that takes instructions away
from a hot path shows here where a timed run needs many repeats.

    python -m bench.instructions store [--units N] [--repeat N] [--against REV]
    python -m bench.instructions replay [--units N] [--skip N] [--repeat N] [--against REV]
                                        [--capture PCAP]

- ``store``: :meth:`SQLiteStore.write` of real replayed events (those of ``bench.store``) in
  batches of 2,000 into a fresh file: instructions per event;
- ``replay``: ``liaowang replay --jsonl /dev/null`` of N packets of the benchmark capture, after
  the first ``--skip``: instructions per packet. The capture's control plane comes in bursts;
  the default window (20,000 packets after the first 100,000) holds user plane, Modbus, PFCP,
  IEC 104 and S7comm, but no NGAP (its first message is packet 127,371).

Each workload is counted with N units and with one, and the difference over N - 1 is the cost
of one unit without the start-up. The count of the same run is not quite fixed: a replay's
start-up alone (6 G instructions) moves by some 20 M from run to run, and per-packet figures of
one count each moved by up to a tenth; each input is therefore counted ``--repeat`` times
(default 3) and the median kept. ``--against`` counts the same for a git revision, checked out
in a temporary worktree, and prints the ratio. Needs ``valgrind`` (Debian: ``apt-get install
valgrind``); under it the work runs about 50 times slower, so N stays small.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dpkt

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CAPTURE = ROOT / ".cache" / "bench" / "bench.pcap"
TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")

STORE = """
import gc, pickle, sys, tempfile
from pathlib import Path
from pipelines.store.sqlite import SQLiteStore
events = pickle.loads(Path(sys.argv[1]).read_bytes())[:int(sys.argv[2])]
gc.disable()   # the collector walks every object alive, the whole corpus: not the store's cost
with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "e.db") as store:
    for start in range(0, len(events), 2000):
        store.write(events[start:start + 2000])
"""
REPLAY = """
import sys
from console.cli import main
sys.exit(main(["replay", sys.argv[1], "--jsonl", "/dev/null"]))
"""


def _env(source: Path) -> dict[str, str]:
    """Run from ``source``; numba compiles for a generic CPU, so that the code it caches on a
    run outside valgrind is the code found under it (valgrind shows another CPU, which would
    make numba compile again, under valgrind, and count that); one hash seed, as the start-up
    of a process varies by a hundred million instructions with it."""
    return dict(os.environ, PYTHONPATH=str(source), NUMBA_CPU_NAME="generic",
                PYTHONHASHSEED="0")


def count(source: Path, script: str, *args: str) -> int:
    """Instructions of ``python -c script args`` run from ``source`` under cachegrind."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", script, *args],
        cwd=source, env=_env(source), capture_output=True, text=True, check=False)
    found = TOTAL.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"bench.instructions: the workload failed in {source}:\n"
                         f"{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_unit(source: Path, workload: str, inputs: dict[int, list[str]], units: int,
             repeat: int = 1) -> float:
    """(instructions with ``units`` units - with one) / (units - 1), each the median of
    ``repeat`` counts."""
    script = STORE if workload == "store" else REPLAY
    if (source / "sensor" / "kernels.py").exists():   # the loops built ahead of time, as make does
        subprocess.run([sys.executable, "-m", "sensor.kernels", "build"], cwd=source,
                       env=_env(source), check=True, capture_output=True)
    if workload == "replay":   # numba compiles into its cache on a first run: not under valgrind
        for arguments in inputs.values():   # (array types differ with the batch: both runs)
            subprocess.run([sys.executable, "-c", script, *arguments], cwd=source, check=True,
                           env=_env(source), capture_output=True)
    def median(n: int) -> int:
        return int(statistics.median(count(source, script, *inputs[n]) for _ in range(repeat)))
    return (median(units) - median(1)) / (units - 1)


def store_inputs(folder: Path, units: int) -> dict[int, list[str]]:
    from bench.store import corpus

    path = folder / "events.pickle"
    path.write_bytes(pickle.dumps(corpus(units, 3000)))
    return {n: [str(path), str(n)] for n in (1, units)}


def replay_inputs(folder: Path, units: int, capture: Path, skip: int) -> dict[int, list[str]]:
    return {n: [str(window(capture, skip, n, folder / f"window-{n}.pcap"))] for n in (1, units)}


def window(capture: Path, skip: int, count: int, out: Path) -> Path:
    """``count`` packets of ``capture`` after its first ``skip``, as a pcap file ``out``."""
    with capture.open("rb") as source, out.open("wb") as target:
        reader = dpkt.pcap.Reader(source)
        writer = dpkt.pcap.Writer(target, snaplen=reader.snaplen, linktype=reader.datalink(),
                                  nano=getattr(reader, "nano", False))
        for ts, frame in itertools.islice(reader, skip, skip + count):
            writer.writepkt(frame, ts)
    return out


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """The repository at ``revision``, in a temporary folder removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="liaowang-rev-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(folder), revision],
                   cwd=ROOT, check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT,
                       check=False)
        shutil.rmtree(folder.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("store", "replay"))
    parser.add_argument("--units", type=int, help="events or packets (default 10,000 / 20,000)")
    parser.add_argument("--skip", type=int, default=100_000,
                        help="replay: packets of the capture to pass over first")
    parser.add_argument("--repeat", type=int, default=3, help="counts of each input (median)")
    parser.add_argument("--against", metavar="REV", help="also count this git revision")
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.instructions: valgrind is needed (apt-get install valgrind)")
    units = max(2, args.units or (10_000 if args.workload == "store" else 20_000))
    unit = "event" if args.workload == "store" else "packet"
    with tempfile.TemporaryDirectory() as scratch:
        inputs = (store_inputs(Path(scratch), units) if args.workload == "store"
                  else replay_inputs(Path(scratch), units, args.capture, args.skip))
        now = per_unit(ROOT, args.workload, inputs, units, args.repeat)
        print(f"{args.workload}: {now:,.0f} instructions per {unit} (this tree, {units:,} "
              f"{unit}s)")
        if args.against:
            with worktree(args.against) as tree:
                then = per_unit(tree, args.workload, inputs, units, args.repeat)
            print(f"{args.workload}: {then:,.0f} instructions per {unit} at {args.against}; "
                  f"this tree {now / then:.2f}x")


if __name__ == "__main__":
    main()
