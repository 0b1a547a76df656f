"""Cost per event of the asset, threat-intel and fusion steps that run before every sink.

A batch of flow events between 1,000 configured assets (one OT zone) and 1,000 other hosts
goes through each step in batches of 5,000, as ``liaowang replay`` hands them over; the intel
step holds 10,000 listed addresses and 10,000 domains. Prints events/s per step, and the rate
of first (uncached) address lookups.

    python -m bench.enrichment [--events N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from detection.fusion import Fusion
from liaowang.assets import Asset, AssetMap, Zone
from liaowang.events import iso_timestamp
from pipelines.enrich.assets import AssetEnrichment
from pipelines.enrich.intel import Indicator, IndicatorSet, IntelEnrichment

BATCH = 5000
T0 = 1_700_000_000_000_000


def site() -> AssetMap:
    assets = [Asset(f"h{n}", f"10.{n // 256}.{n % 256}.1/32", 1 + n % 5, "plc", "cell")
              for n in range(1000)]
    return AssetMap(assets, [Zone("cell", ("10.0.0.0/8",), "ot")])


def feed() -> IndicatorSet:
    return IndicatorSet([Indicator(f"203.0.{n // 256}.{n % 256}", "ip", 3) for n in range(10_000)]
                        + [Indicator(f"bad{n}.example", "domain", 3) for n in range(10_000)])


def flows(count: int) -> list[dict]:
    return [{"@timestamp": iso_timestamp(T0 + n * 1000), "observer": {"name": "bench"},
             "event": {"id": str(n), "kind": "event", "dataset": "flow"},
             "source": {"ip": f"10.{n % 4}.{n % 256}.1", "port": 40000},
             "destination": {"ip": f"192.168.{n % 200}.{n % 250}", "port": 502}}
            for n in range(count)]


def rate(step: Callable[[list[dict]], list[dict]], count: int) -> float:
    events = flows(count)
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        step(events[start:start + BATCH])
    return count / (time.perf_counter() - started)


def lookup_rate(count: int) -> float:
    places = site()
    addresses = [f"10.{(n // 256) % 256}.{n % 256}.{n // 65536 % 256}" for n in range(count)]
    started = time.perf_counter()
    for address in addresses:
        places.lookup(address)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    count = parser.parse_args().events
    places = site()
    steps = {"assets": AssetEnrichment(places), "intel": IntelEnrichment(feed()),
             "fusion": Fusion(places.lookup)}
    for name, step in steps.items():
        print(f"{name}: {rate(step, count):,.0f} events/s")
    print(f"first lookups of an address: {lookup_rate(min(count, 100_000)):,.0f}/s")


if __name__ == "__main__":
    main()
