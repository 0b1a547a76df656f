"""Time Liaowang's replay against its peers on the benchmark capture, in one run.

    .venv/bin/python -m bench.run [CAPTURE] [--timeout S] [--repeat N] [--cpu N]
                                     [--memory-json PATH]

Tools, each a separate process, run one after the other on one CPU: run.py pins itself with
``sched_setaffinity`` (``--cpu``, default 0) and every process it starts inherits that, NFStream's
meter process included. With ``--repeat N`` the tools take turns: N rounds of one run each,
each round starting one tool further on:

- ``liaowang``: ``liaowang replay CAPTURE --jsonl /dev/null``; packets and flows from its summary
- ``liaowang-flows``: the same with ``--analyzers none``: the flow meter, what NFStream is
- ``dpkt``: a plain dpkt decode loop, GTP-U inner IP included (:mod:`bench.peers`)
- ``nfstream``: NFStream with GTP tunnels decoded and Liaowang's timeouts (:mod:`bench.peers`)
- ``tshark``: ``tshark -n -r CAPTURE -T fields -e frame.number -e ip.src ...``

packets/s is the capture's packet count over the process's wall-clock time, start-up included,
the same way for every tool (the capture is read once beforehand, so it is in the page cache
for all); the best of ``--repeat`` runs counts. Each round also runs every tool on a copy of
the capture's first packet: the best of those times is the tool's start-up, and packets/s after
start-up is the rest of the capture over the rest of the time, what a sensor left running at a
tap sustains. A tool over ``--timeout`` is
stopped and reported as a timeout. Results go to stdout (a table, then a Markdown block for the
README) and to ``results.json`` beside the capture.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.machine import machine_info
from bench.report import markdown, table
from pipelines.packets.pcapfile import PcapWriter
from sensor.capture import CaptureFile

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CAPTURE = ROOT / ".cache" / "bench" / "bench.pcap"
SUMMARY = re.compile(r"packets=(\d+) flows=(\d+) events=(\d+) alerts=(\d+) malformed=(\d+) "
                     r"packets/s=([\d,.]+) seconds=([\d.]+)")
STARTUP_PACKETS = 1
TSHARK_FIELDS = ("frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
                 "tcp.dstport", "udp.srcport", "udp.dstport")


@dataclass(slots=True)
class Outcome:
    tool: str
    command: list[str]
    status: str = "ok"             # ok, timeout, failed, missing
    seconds: float | None = None   # wall clock of the process
    cpu_seconds: float | None = None
    packets: int | None = None     # as the tool counted them
    flows: int | None = None
    startup_seconds: float | None = None  # best wall clock on the first packet alone
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    command: Callable[[Path], list[str]]
    read: Callable[[str, str], tuple[int | None, int | None, dict[str, Any]]]


def liaowang_command(capture: Path, *options: str) -> list[str]:
    return [str(Path(sys.executable).with_name("liaowang")), "replay", str(capture),
            "--jsonl", os.devnull, *options]


def liaowang_flows_command(capture: Path) -> list[str]:
    """The flow meter alone, as NFStream is one: no protocol analyzer (rules still run)."""
    return liaowang_command(capture, "--analyzers", "none")


def read_liaowang(_stdout: str, stderr: str) -> tuple[int | None, int | None, dict[str, Any]]:
    match = SUMMARY.search(stderr)
    if not match:
        return None, None, {}
    packets, flows, events, alerts, malformed = (int(g) for g in match.groups()[:5])
    detail = {"events": events, "alerts": alerts, "malformed": malformed,
              "own_packets_per_second": float(match.group(6).replace(",", "")),
              "own_seconds": float(match.group(7))}
    return packets, flows, detail


def peer_command(name: str) -> Callable[[Path], list[str]]:
    return lambda capture: [sys.executable, "-m", "bench.peers", name, str(capture)]


def read_peer(stdout: str, _stderr: str) -> tuple[int | None, int | None, dict[str, Any]]:
    lines = stdout.strip().splitlines()
    if not lines:
        return None, None, {}
    found = json.loads(lines[-1])
    return found.pop("packets"), found.pop("flows"), found


def tshark_command(capture: Path) -> list[str]:
    fields = [arg for name in TSHARK_FIELDS for arg in ("-e", name)]
    return ["tshark", "-n", "-r", str(capture), "-T", "fields", *fields]


def read_tshark(stdout: str, _stderr: str) -> tuple[int | None, int | None, dict[str, Any]]:
    return stdout.count("\n"), None, {}


TOOLS = (
    Tool("liaowang", liaowang_command, read_liaowang),
    Tool("liaowang-flows", liaowang_flows_command, read_liaowang),
    Tool("dpkt", peer_command("dpkt"), read_peer),
    Tool("nfstream", peer_command("nfstream"), read_peer),
    Tool("tshark", tshark_command, read_tshark),
)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(tool: Tool, capture: Path, timeout: float) -> Outcome:
    command = tool.command(capture)
    outcome = Outcome(tool.name, command)
    if not shutil.which(command[0]):
        outcome.status = "missing"
        return outcome
    with _scratch() as out, _scratch() as err:
        cpu, started = children_cpu(), time.perf_counter()
        outcome.status = _wait(command, out, err, timeout)
        outcome.seconds = time.perf_counter() - started
        outcome.cpu_seconds = children_cpu() - cpu
        stdout, stderr = _read(out), _read(err)
    if outcome.status == "ok":
        outcome.packets, outcome.flows, outcome.detail = tool.read(stdout, stderr)
    else:
        outcome.detail = {"stderr": stderr[-2000:]}
    return outcome


def _scratch() -> IO[str]:
    return tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")


def _wait(command: list[str], out: IO[str], err: IO[str], timeout: float) -> str:
    process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT,
                               start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return "timeout"
    return "ok" if code == 0 else f"failed (exit {code})"


def _read(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read()


def warm_page_cache(capture: Path) -> None:
    """Read the capture once, so the first tool timed does not pay for the disk."""
    with capture.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def first_packets(capture: Path, count: int = STARTUP_PACKETS) -> Path:
    """The capture's first ``count`` packets as a pcap beside it, same link type: a tool's time
    on it is its start-up."""
    out = capture.with_name(f"{capture.stem}.first{count}.pcap")
    frames = list(itertools.islice(CaptureFile(capture), count))
    with out.open("wb") as target:
        PcapWriter(target, frames[0].linktype).write(frames)
    return out


def best_of_rounds(tools: Sequence[Tool], capture: Path, timeout: float, repeat: int
                   ) -> list[Outcome]:
    """Each tool's best run over ``repeat`` rounds, every round running each tool once and
    starting one tool further on: the machine's speed drifts over minutes, so no tool has all
    its runs in one stretch, or all after the same neighbour. A run on the first packet alone
    follows each run on the capture; the best of those is the tool's start-up."""
    runs: dict[str, list[Outcome]] = {tool.name: [] for tool in tools}
    startups: dict[str, list[Outcome]] = {tool.name: [] for tool in tools}
    first = first_packets(capture)
    for round_number in range(1, repeat + 1):
        start = (round_number - 1) % len(tools)
        for tool in [*tools[start:], *tools[:start]]:
            print(f"timing {tool.name} (round {round_number} of {repeat}) ...", file=sys.stderr,
                  flush=True)
            runs[tool.name].append(run_once(tool, capture, timeout))
            startups[tool.name].append(run_once(tool, first, timeout))
    first.unlink()
    return [_with_startup(_best(runs[tool.name]), _best(startups[tool.name])) for tool in tools]


def _best(runs: list[Outcome]) -> Outcome:
    done = [run for run in runs if run.status == "ok"]
    return min(done, key=lambda run: run.seconds or 0.0) if done else runs[-1]


def _with_startup(outcome: Outcome, startup: Outcome) -> Outcome:
    if startup.status == "ok":
        outcome.startup_seconds = startup.seconds
    return outcome


def capture_contents(capture: Path) -> dict[str, Any]:
    summary = capture.with_name(capture.name + ".json")
    if summary.exists():
        known: dict[str, Any] = json.loads(summary.read_text())
        return known
    return {}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per tool run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the best counts")
    parser.add_argument("--tools", default=",".join(t.name for t in TOOLS))
    parser.add_argument("--cpu", type=int, default=0, help="the CPU every tool runs on")
    parser.add_argument("--memory-json", type=Path, help="flows_memory.py results to include")
    parser.add_argument("--out", type=Path, help="results JSON (default: results.json beside "
                                                 "the capture)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if not args.capture.exists():
        print(f"run: no capture at {args.capture}; run python -m bench.make_capture",
              file=sys.stderr)
        return 2
    wanted = args.tools.split(",")
    os.sched_setaffinity(0, {args.cpu})
    machine = machine_info(args.cpu)
    warm_page_cache(args.capture)
    outcomes = best_of_rounds([t for t in TOOLS if t.name in wanted], args.capture,
                              args.timeout, args.repeat)
    results = {"capture": str(args.capture), "contents": capture_contents(args.capture),
               "machine": machine, "pinned_cpu": args.cpu, "repeat": args.repeat,
               "startup_packets": STARTUP_PACKETS,
               "timeout_seconds": args.timeout, "tools": [asdict(o) for o in outcomes]}
    if args.memory_json and args.memory_json.exists():
        results["flow_memory"] = json.loads(args.memory_json.read_text())
    out = args.out or args.capture.with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print()
    print(markdown(results))
    print(f"\nresults: {out}", file=sys.stderr)
    return 0 if all(o.status == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
