"""``liaowang store prune`` and the sensor's console sink, for the ``liaowang`` command.

``liaowang store prune --before DAY`` deletes the events of days before ``DAY``
(``YYYY-MM-DD``, UTC); ``--days N`` keeps today and the N days before it (the configuration's
``store.retention_days`` when neither is given). Alerts are kept: see
:meth:`pipelines.store.base.Store.drop_before`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from liaowang.config import Settings
from pipelines.sinks.base import Sink
from pipelines.spool import SpoolError

if TYPE_CHECKING:   # the console sink's HTTP client is imported only by a sensor that ships
    from pipelines.live import LiveRun
    from pipelines.sinks.console import ConsoleSink, SensorCounters


def add_parser(commands: argparse._SubParsersAction) -> None:
    store = commands.add_parser("store", help="maintenance of the event store")
    actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    prune = actions.add_parser("prune", help="delete old events (alerts are kept)")
    prune.add_argument("--store", metavar="URL", help="store URL (default from the configuration)")
    when = prune.add_mutually_exclusive_group()
    when.add_argument("--before", metavar="DAY", help="delete events of days before DAY "
                                                      "(YYYY-MM-DD, UTC)")
    when.add_argument("--days", type=int, metavar="N",
                      help="keep today and the N days before (default: store.retention_days)")
    prune.add_argument("--config", metavar="FILE", help="YAML configuration file")
    prune.set_defaults(run=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    from console.cli import Refused, _open_store, _settings

    settings = _settings(args)
    days = args.days if args.days is not None else settings.store.retention_days
    if args.before is None and days is None:
        raise Refused("say which events to delete: --before DAY, --days N, or "
                      "store.retention_days in the configuration")
    if days is not None and days < 0:
        raise Refused(f"--days must be 0 or more, not {days}")
    with _open_store(settings) as store:
        dropped = store.drop_before(args.before) if args.before else store.retain(days)
    print(f"{dropped} events deleted from {settings.store.url}", file=sys.stderr)
    return 0


def console_sink(settings: Settings) -> ConsoleSink:
    """The configured console sink (``sensor.sink``) with its spool."""
    from console.cli import Refused
    from pipelines.sinks.console import ConsoleSink

    try:
        return ConsoleSink(settings)
    except SpoolError as exc:
        raise Refused(str(exc)) from exc


def report_live_counters(sinks: Sequence[Sink], run: LiveRun) -> None:
    """Let the console sinks among ``sinks`` report the live run's counters in heartbeats."""
    for sink in _console_sinks(sinks):
        sink.counters = lambda: _live_counters(run)


def _live_counters(run: LiveRun) -> SensorCounters:
    from pipelines.sinks.console import SensorCounters

    stats = list(run.capture.stats.values())
    return SensorCounters(packets=sum(s.received for s in stats),
                          drops=sum(s.dropped for s in stats), lag_s=run.lag_s)


def _console_sinks(sinks: Sequence[Sink]) -> list[ConsoleSink]:
    from pipelines.sinks.console import ConsoleSink

    found: list[ConsoleSink] = []
    for sink in sinks:
        if isinstance(sink, ConsoleSink):
            found.append(sink)
        found += _console_sinks(getattr(sink, "sinks", []))
    return found
