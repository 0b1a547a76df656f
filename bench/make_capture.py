"""Build the benchmark capture: over a million packets, mostly 5G user plane.

    .venv/bin/python -m bench.make_capture [--out .cache/bench/bench.pcap] [--force]

Contents (Ethernet, classic pcap, strictly increasing timestamps over two minutes):

- GTP-U on N3 between several gNB/UPF pairs: thousands of PDU sessions with their own uplink and
  downlink TEIDs, every G-PDU with a PDU Session Container carrying the QFI; inner IPv4 and some
  IPv6; inner TCP and UDP flows of realistic sizes (see :mod:`bench.traffic`).
- Plain TCP/UDP between LAN hosts and servers.
- Real Modbus/TCP, S7comm, IEC 60870-5-104, PFCP and NGAP/SCTP captures from ../shared/pcaps,
  re-timed and repeated under fresh addresses (see :mod:`bench.replayed`). They are read when the
  capture is built and never copied into the repository.

Everything is drawn from one seed. The capture is rebuilt only when missing or when a generator
module changed (a fingerprint is kept beside it in ``<out>.json`` with the contents summary).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.frames import FlowSpec, FrameBuilder, PcapWriter
from bench.network import Network
from bench.replayed import SOURCES, Replayed, replay_sources
from bench.traffic import PLAIN_MIX, USER_PLANE_MIX, Maker, Script, draw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = ROOT / ".cache" / "bench" / "bench.pcap"
DEFAULT_PCAPS = ROOT.parent / "shared" / "pcaps"
GENERATORS = ("make_capture.py", "traffic.py", "frames.py", "network.py", "replayed.py")
SEED = 20250101
EPOCH_US = 1_735_689_600_000_000      # 2025-01-01T00:00:00Z
SPAN_US = 120_000_000
USER_PLANE_PACKETS = 900_000
PLAIN_PACKETS = 60_000
SESSIONS = 6_000
LAN_HOSTS = 500
MIN_PACKETS = 1_000_000
Contents = dict[str, Any]


class Schedule:
    """Synthetic packets as columns, one entry per scripted step of every flow."""

    def __init__(self) -> None:
        self.ts, self.flow = array("q"), array("l")
        self.direction, self.flags = array("B"), array("B")
        self.size, self.seq, self.ack = array("H"), array("I"), array("I")
        self.flows: list[FlowSpec] = []
        self.packets: Counter[str] = Counter()
        self.flow_kinds: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, flow: FlowSpec, script: Script, start_us: int, rng: random.Random,
            label: str) -> None:
        index = len(self.flows)
        self.flows.append(flow)
        next_seq = [rng.getrandbits(32), rng.getrandbits(32)]
        for t, direction, flags, size in script.steps:
            seq = next_seq[direction]
            self.ts.append(start_us + t)
            self.flow.append(index)
            self.direction.append(direction)
            self.flags.append(flags)
            self.size.append(size)
            self.seq.append(seq if flow.proto == 6 else 0)
            self.ack.append(next_seq[1 - direction] if flags & 0x10 else 0)
            next_seq[direction] = (seq + size + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
        self.packets[label] += len(script.steps)
        self.flow_kinds[label] += 1


def synthesize(schedule: Schedule, rng: random.Random, network: Network, budget: int,
               mix: Sequence[tuple[Maker, float]], *, tunnelled: bool) -> None:
    group = "gtp-u" if tunnelled else "plain"
    spent = 0
    while spent < budget:
        script = draw(rng, mix)
        flow = network.flow(script.proto, script.server_port, script.qfi, tunnelled=tunnelled)
        start = rng.randint(0, max(0, SPAN_US - script.duration_us))
        schedule.add(flow, script, start, rng, f"{group}/{script.kind}")
        spent += len(script.steps)


def timeline(schedule: Schedule, real: Replayed) -> tuple[list[int], list[int]]:
    """Merge order (index < len(schedule): synthetic) and strictly increasing stamps (µs)."""
    stamps = np.concatenate([np.frombuffer(schedule.ts, dtype=np.int64),
                             np.array([ts for ts, _ in real.frames], dtype=np.int64)])
    order = np.argsort(stamps, kind="stable")
    rank = np.arange(len(order), dtype=np.int64)
    increasing = np.maximum.accumulate(stamps[order] - rank) + rank + EPOCH_US
    return order.tolist(), increasing.tolist()


def write(out: Path, schedule: Schedule, real: Replayed, builder: FrameBuilder) -> int:
    order, stamps = timeline(schedule, real)
    synthetic, s = len(schedule), schedule
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb", buffering=1 << 22) as handle:
        writer = PcapWriter(handle)
        for i, ts in zip(order, stamps, strict=True):
            if i < synthetic:
                frame = builder.frame(s.flows[s.flow[i]], s.direction[i], s.flags[i], s.size[i],
                                      s.seq[i], s.ack[i])
            else:
                frame = real.frames[i - synthetic][1]
            writer.write(ts, frame)
    partial.replace(out)
    return len(order)


def build(out: Path, pcaps: Path, seed: int) -> Contents:
    rng = random.Random(seed)
    network = Network(rng, SESSIONS, LAN_HOSTS)
    schedule = Schedule()
    synthesize(schedule, rng, network, USER_PLANE_PACKETS, USER_PLANE_MIX, tunnelled=True)
    synthesize(schedule, rng, network, PLAIN_PACKETS, PLAIN_MIX, tunnelled=False)
    real = replay_sources(pcaps, SPAN_US, rng)
    out.parent.mkdir(parents=True, exist_ok=True)
    packets = write(out, schedule, real, FrameBuilder(seed))
    return contents(schedule, real, packets, seed)


def contents(schedule: Schedule, real: Replayed, packets: int, seed: int) -> Contents:
    tunnelled = [flow for flow in schedule.flows if flow.tunnel is not None]
    tunnels = {flow.tunnel for flow in tunnelled if flow.tunnel is not None}
    flows = dict(schedule.flow_kinds) | {kind: len(seen) for kind, seen in real.flows.items()}
    protocols = Counter(str(flow.proto) for flow in schedule.flows)
    protocols.update(str(key[0]) for seen in real.flows.values() for key in seen)
    return {
        "packets": packets,
        "span_seconds": SPAN_US / 1e6,
        "seed": seed,
        "packets_by_kind": dict(schedule.packets) | dict(real.packets),
        "flows_by_kind": flows,
        "flows": sum(flows.values()),
        "flows_by_ip_protocol": dict(protocols),
        "user_plane": {
            "pdu_sessions": len(tunnels),
            "teids": 2 * len(tunnels),
            "gnb_upf_pairs": len({(t.gnb, t.upf) for t in tunnels}),
            "inner_ipv6_flows": sum(1 for flow in tunnelled if len(flow.client) == 16),
        },
        "sources": [{"kind": s.kind, "path": s.path, "repeats": s.repeats} for s in SOURCES],
    }


def fingerprint(seed: int) -> str:
    digest = hashlib.sha256(str(seed).encode())
    for name in GENERATORS:
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def cached(out: Path, summary: Path, wanted: str) -> Contents | None:
    if not out.exists() or not summary.exists():
        return None
    try:
        known = json.loads(summary.read_text())
    except ValueError:
        return None
    return known if known.get("fingerprint") == wanted else None


def describe(out: Path, known: Contents) -> str:
    lines = [f"benchmark capture {out}: {known['packets']:,} packets over "
             f"{known['span_seconds']:.0f} s (seed {known['seed']})",
             f"  {'kind':<18} {'packets':>10} {'flows':>8}"]
    for kind, count in sorted(known["packets_by_kind"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {kind:<18} {count:>10,} {known['flows_by_kind'].get(kind, 0):>8,}")
    up = known["user_plane"]
    lines += [f"  {'total':<18} {known['packets']:>10,} {known['flows']:>8,}",
              "  flows: distinct bidirectional 5-tuples; GTP-U counted by inner 5-tuple",
              f"  user plane: {up['pdu_sessions']:,} PDU sessions ({up['teids']:,} TEIDs) over "
              f"{up['gnb_upf_pairs']} gNB/UPF pairs, {up['inner_ipv6_flows']:,} inner IPv6 flows"]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--pcaps", type=Path, default=DEFAULT_PCAPS,
                        help="the shared capture folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    summary = args.out.with_name(args.out.name + ".json")
    wanted = fingerprint(args.seed)
    known = None if args.force else cached(args.out, summary, wanted)
    if known is None:
        missing = [s.path for s in SOURCES if not (args.pcaps / s.path).exists()]
        if missing:
            print(f"make_capture: missing under {args.pcaps}: {', '.join(missing)}",
                  file=sys.stderr)
            return 2
        print(f"building {args.out} ...", file=sys.stderr)
        known = build(args.out, args.pcaps, args.seed) | {"fingerprint": wanted}
        summary.write_text(json.dumps(known, indent=2) + "\n")
    print(describe(args.out, known))
    if known["packets"] < MIN_PACKETS:
        print(f"make_capture: only {known['packets']:,} packets", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
