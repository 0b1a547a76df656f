"""Peak memory of Liaowang's sensor holding 1,000,000 concurrent flows (target: ≤ 1 GiB RSS).

    .venv/bin/python -m bench.flows_memory [--flows N] [--json PATH]

Synthetic Ethernet frames go through the sensor engine (``Sensor.process``), a block at a time
as ``liaowang replay`` feeds it, and every frame opens a new flow: nine in ten are GTP-U user
plane (inner TCP or UDP of a UE, inner IPv6 for a tenth of the UEs, each UE with its own TEIDs),
one in ten plain TCP/UDP. They all arrive within 50 s, under the 60 s idle timeout, and the
table's limit is set above N, so at the end every flow is live and none was evicted. Ending them
(``finish()``, which builds one event per flow) is not part of the measurement.

Peak RSS is the process's high-water mark (VmHWM in /proc/self/status), everything included:
interpreter, libraries, compiled code and the flow table. The baseline is the RSS after the
first block (the sensor warmed up, its code compiled), so ``bytes_per_flow`` is what the table
adds per flow. This only measures; it changes nothing in the sensor.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.frames import FlowSpec, FrameBuilder, Tunnel
from bench.network import GNBS, UPFS
from sensor.capture import Frame
from sensor.engine import Sensor

FLOWS = 1_000_000
BLOCK = 4096
SPAN_NS = 50_000_000_000
EPOCH_NS = 1_735_689_600_000_000_000
FLOWS_PER_HOST = 16
SERVERS = tuple(bytes((203, 0, 113, i)) for i in range(1, 255))
SERVER_V6 = ipaddress.IPv6Address("2001:db8:5e::443").packed
TARGET_MIB = 1024
LINKTYPE_ETHERNET = 1


def flow_spec(i: int) -> FlowSpec:
    """Flow ``i``: 16 flows per host; hosts are UEs behind GTP-U except every tenth."""
    host, slot = divmod(i, FLOWS_PER_HOST)
    proto = 17 if slot % 3 == 0 else 6
    if host % 10 == 0:
        client = bytes((172, 16 + (host >> 16), host >> 8 & 0xFF, host & 0xFF))
        return FlowSpec(proto, client, SERVERS[i % len(SERVERS)], 40000 + slot, 443)
    tunnel = Tunnel(GNBS[host % len(GNBS)], UPFS[host % len(UPFS)], 2 * host + 1, 2 * host + 2)
    if host % 10 == 5:
        client = ipaddress.IPv6Address(f"2001:db8:cafe:{host:x}::1").packed
        return FlowSpec(proto, client, SERVER_V6, 40000 + slot, 443, tunnel=tunnel)
    client = bytes((10, 64 + (host >> 16), host >> 8 & 0xFF, host & 0xFF))
    return FlowSpec(proto, client, SERVERS[i % len(SERVERS)], 40000 + slot, 443, tunnel=tunnel)


def block(builder: FrameBuilder, start: int, stop: int, flows: int) -> list[Frame]:
    frames = []
    for i in range(start, stop):
        spec = flow_spec(i)
        data = builder.frame(spec, 0, 0x02 if spec.proto == 6 else 0, 0 if spec.proto == 6
                             else 40, 0, 0)
        frames.append(Frame(i + 1, EPOCH_NS + i * SPAN_NS // flows, LINKTYPE_ETHERNET,
                            len(data), data))
    return frames


def rss_kib() -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of this process, in KiB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def measure(flows: int) -> dict[str, Any]:
    sensor = Sensor("bench", max_flows=flows + BLOCK)
    builder = FrameBuilder(seed=1)
    sensor.process(block(builder, 0, min(BLOCK, flows), flows))
    baseline = rss_kib()["VmRSS"]
    started = time.perf_counter()
    for start in range(BLOCK, flows, BLOCK):
        sensor.process(block(builder, start, min(start + BLOCK, flows), flows))
    seconds = time.perf_counter() - started
    memory = rss_kib()
    live = len(sensor.flows)
    return {
        "flows": flows, "live_flows": live, "evicted": getattr(sensor.flows, "evicted", None),
        "seconds": round(seconds, 2),
        "baseline_rss_mib": round(baseline / 1024, 1),
        "peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        "final_rss_mib": round(memory["VmRSS"] / 1024, 1),
        "bytes_per_flow": round((memory["VmHWM"] - baseline) * 1024 / max(1, live)),
        "target_mib": TARGET_MIB,
    }


def describe(result: dict[str, Any]) -> str:
    peak = result["peak_rss_mib"]
    verdict = ("met" if peak <= TARGET_MIB
               else f"missed by {peak - TARGET_MIB:,.0f} MiB ({peak / TARGET_MIB:.2f}× the target)")
    return "\n".join([
        f"flow table memory: {result['live_flows']:,} live flows of {result['flows']:,} created "
        f"({result['evicted']} evicted) in {result['seconds']:.1f} s",
        f"  RSS baseline {result['baseline_rss_mib']:,.0f} MiB (after the first block), "
        f"peak {peak:,.0f} MiB, now {result['final_rss_mib']:,.0f} MiB",
        f"  {result['bytes_per_flow']:,} bytes per flow above the baseline",
        f"  target: {result['flows']:,} concurrent flows in ≤ {TARGET_MIB:,} MiB RSS: {verdict}",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=FLOWS)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = measure(args.flows)
    print(describe(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
