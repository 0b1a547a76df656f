"""The ``liaowang`` command.

Exit codes: 0 done, 1 failed while running, 2 refused (bad arguments, file, configuration or
store URL) with a one-line reason on standard error.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, get_args

from console import cli_accounts, cli_reload, cli_rules, cli_store, cli_train
from detection.base import Detector, detect
from liaowang import __version__
from liaowang.config import AnalyzerName, ConfigError, Settings, load_config
from pipelines.enrich import EnrichedSinks, enrichments
from pipelines.replay import Progress
from pipelines.sinks.base import Sink
from pipelines.sinks.jsonl import JsonlSink
from pipelines.sinks.spooled import spooled_store_sink, wait_for_delivery
from pipelines.sinks.webhooks import WebhookSink, wait_for_webhooks
from pipelines.sinks.webhooks import report as webhook_report
from pipelines.spool import SpoolError
from pipelines.store import open_store
from pipelines.store.base import Store, StoreError
from sensor.allocator import keep_freed_memory
from sensor.capture import CaptureError
from sensor.collector import freeze_long_lived

if TYPE_CHECKING:
    from pipelines.packets.buffer import PacketBuffer


class Refused(Exception):
    """Input the command will not work with; the message is shown as is, exit code 2."""


_ANALYZER_NAMES = get_args(AnalyzerName)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (Refused, ConfigError, CaptureError, StoreError) as exc:
        print(f"liaowang: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def command() -> int:
    """The ``liaowang`` program: :func:`main`, then out of the collector's sight whatever is
    still alive. The interpreter collects several times while it tears its modules down, and
    each pass walked every object left (0.4 s after a replay of a million packets); frozen,
    they are still freed, by reference counting alone."""
    code = main()
    freeze_long_lived()
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liaowang", description="Network security situational awareness for 5G core "
                                     "and industrial control networks.")
    parser.add_argument("--version", action="version", version=f"liaowang {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_up(commands)
    _add_replay(commands)
    _add_sensor(commands)
    _add_console(commands)
    cli_train.add_parser(commands)
    cli_store.add_parser(commands)
    cli_rules.add_parser(commands)
    cli_accounts.add_parser(commands)
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML configuration file")


def _add_up(commands: argparse._SubParsersAction) -> None:
    up = commands.add_parser("up", help="console + sensor + embedded store on one machine")
    _config_arg(up)
    up.add_argument("--store", metavar="URL", help="store URL (default from the configuration)")
    up.add_argument("--host", help="console address (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="console port (default 8080)")
    up.set_defaults(run=run_up)


def _add_replay(commands: argparse._SubParsersAction) -> None:
    replay = commands.add_parser("replay", help="run the sensor over capture files")
    replay.add_argument("pcaps", nargs="+", metavar="PCAP",
                        help="pcap or pcapng captures: files, also gzip, xz or bzip2 "
                             "compressed, or - for standard input")
    replay.add_argument("--rotated", action="store_true",
                        help="the captures are one, cut into files in the order given (as "
                             "tcpdump -G/-C or dumpcap -b write them): flows and sessions go "
                             "on from one file into the next")
    replay.add_argument("--store", metavar="URL",
                        help="store events here (sqlite:///path.db or http(s)://host:9200)")
    replay.add_argument("--jsonl", metavar="PATH", help="write JSON lines to PATH ('-': stdout)")
    replay.add_argument("--observer", metavar="NAME", help="sensor name in the events")
    replay.add_argument("--rules", action="append", metavar="PATH",
                        help="Sigma rules to use instead of the configured ones (repeatable)")
    replay.add_argument("--model", metavar="MODEL", help="score with this model file "
                                                      "(from 'liaowang train')")
    _analyzers_arg(replay)
    replay.add_argument("--flush-timeout", type=float, default=30.0, metavar="S",
                        help="at the end, wait up to S seconds for the spool to reach the store "
                             "(default 30)")
    _config_arg(replay)
    replay.set_defaults(run=run_replay)


def _add_sensor(commands: argparse._SubParsersAction) -> None:
    sensor = commands.add_parser("sensor", help="live capture at a tap")
    sensor.add_argument("--iface", action="append", required=True, metavar="IF",
                        help="interface to capture on (repeat for several)")
    sensor.add_argument("--bpf", metavar="EXPR", help="capture filter, as tcpdump takes it")
    sensor.add_argument("--store", metavar="URL",
                        help="store events here (sqlite:///path.db or http(s)://host:9200)")
    sensor.add_argument("--jsonl", metavar="PATH", help="write JSON lines to PATH ('-': stdout)")
    sensor.add_argument("--metrics-port", type=int, metavar="N",
                        help="serve Prometheus metrics on port N (0: off; default from config)")
    sensor.add_argument("--model", metavar="MODEL",
                        help="score with this anomaly model (from liaowang train)")
    _analyzers_arg(sensor)
    _config_arg(sensor)
    sensor.set_defaults(run=run_sensor)


def _add_console(commands: argparse._SubParsersAction) -> None:
    console = commands.add_parser("console", help="the web console and API")
    _config_arg(console)
    console.add_argument("--store", metavar="URL", help="store URL")
    console.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    console.add_argument("--port", type=int, help="port (default 8080)")
    console.set_defaults(run=run_console)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_config(args.config)
    updates = {}
    if getattr(args, "store", None):
        updates["store"] = settings.store.model_copy(update={"url": args.store})
    console = {k: getattr(args, k) for k in ("host", "port") if getattr(args, k, None)}
    if console:
        updates["console"] = settings.console.model_copy(update=console)
    sensor: dict[str, object] = {}
    if getattr(args, "observer", None):
        sensor["name"] = args.observer
    if getattr(args, "analyzers", None) is not None:   # () is a choice: flows only
        sensor["analyzers"] = args.analyzers
    if sensor:
        updates["sensor"] = settings.sensor.model_copy(update=sensor)
    return settings.model_copy(update=updates)


def _analyzers_arg(parser: argparse.ArgumentParser) -> None:
    every = ", ".join(_ANALYZER_NAMES)
    parser.add_argument("--analyzers", type=_analyzer_names, metavar="NAMES",
                        help="protocol analyzers to run, comma-separated, or 'none' for flows "
                             f"only (default: the configured ones; all: {every})")


def _analyzer_names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if names == ("none",):
        return ()
    unknown = [name for name in names if name not in _ANALYZER_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown analyzer {', '.join(map(repr, unknown)) or repr(text)} "
            f"(known: {', '.join(_ANALYZER_NAMES)}, or 'none')")
    return names


def run_replay(args: argparse.Namespace) -> int:
    from pipelines.replay import open_captures, replay

    settings = _settings(args)
    captures = open_captures(args.pcaps, args.rotated)
    keep_freed_memory()
    sinks = _sinks(args, settings)
    detectors = _detectors(args, settings)
    cli_reload.reload_on_sighup()
    freeze_long_lived()   # the rule pack and sinks live as long as the run
    streamed = any(capture.stream for capture in captures)   # of unknown length
    with _progress_bar(None if streamed else sum(c.size for c in captures)) as progress:
        summary = replay(captures, sinks, settings.sensor, progress, detectors, args.rotated)
    flush_started = time.monotonic()
    spooled = wait_for_delivery(sinks, args.flush_timeout)
    webhooks = wait_for_webhooks(sinks, args.flush_timeout - (time.monotonic() - flush_started))
    webhook_lines, webhooks_left = webhook_report(webhooks), sum(w.pending for w in webhooks)
    if spooled:
        summary.spool_left = sum(sink.pending for sink in spooled)
    for sink in sinks:
        sink.close()
    print(summary.line(), file=sys.stderr)
    for sink in spooled:
        if sink.pending:
            print(f"liaowang: {sink.pending} events wait in {sink.spool.folder} for the next "
                  f"run: {sink.last_error or 'the store did not take them in time'}",
                  file=sys.stderr)
    for line in webhook_lines:
        print(line, file=sys.stderr)
    return 1 if summary.spool_left or webhooks_left else 0


SENSOR_DELIVERY_WAIT_S = 5.0


def run_sensor(args: argparse.Namespace) -> int:
    from pipelines.live import LiveSetupError, open_live, stop_on_signals
    from sensor.live import LiveCaptureError

    settings = _settings(args)
    keep_freed_memory()
    try:
        live = open_live(args.iface, args.bpf, settings.sensor, args.metrics_port)
    except LiveSetupError as exc:
        raise Refused(str(exc)) from exc
    sinks = _sinks(args, settings)
    cli_store.report_live_counters(sinks, live)
    live.detectors = _detectors(args, settings)
    cli_reload.reload_on_sighup()
    print(f"liaowang sensor: capturing on {', '.join(args.iface)}", file=sys.stderr, flush=True)
    code = 0
    try:
        with stop_on_signals() as stop:
            live.run(stop, sinks)
    except LiveCaptureError as exc:
        print(f"liaowang: {exc}", file=sys.stderr)
        code = 1
    finally:
        live.close()
        wait_for_delivery(sinks, SENSOR_DELIVERY_WAIT_S)   # the rest waits in the spool
        wait_for_webhooks(sinks, SENSOR_DELIVERY_WAIT_S)   # and in the webhook queues
        for sink in sinks:
            sink.close()
    print(live.summary(), file=sys.stderr)
    return code


def _detectors(args: argparse.Namespace, settings: Settings) -> list[Detector]:
    """The detectors a run uses, in order: signatures, then anomaly models."""
    model = getattr(args, "model", None)
    anomaly = [cli_train.anomaly_detector(model)] if model else []   # a refusal comes first
    return [_signatures(args, settings), *anomaly]


def _signatures(args: argparse.Namespace, settings: Settings) -> Detector:
    """The Sigma rules of ``--rules``, the configuration or the shipped pack; broken rules are
    reported and skipped; SIGHUP and the console's rule switches reload them."""
    return cli_reload.signature_detector(args, settings)


def _open_store(settings: Settings) -> Store:
    store = settings.store
    return open_store(store.url, ca_file=store.ca_file, verify=store.verify)


def _sinks(args: argparse.Namespace, settings: Settings) -> list[Sink]:
    """``--jsonl`` and/or the store (through the disk spool), behind the configured
    enrichments."""
    sinks: list[Sink] = [JsonlSink.open(args.jsonl)] if args.jsonl else []
    if settings.sensor.sink is not None and not args.store:
        sinks.append(cli_store.console_sink(settings))   # a remote console's ingest API
    elif args.store or not args.jsonl:
        from pipelines.assets import AssetSink  # with its vendor tables: only for a store

        store = _open_store(settings)
        sinks += [AssetSink(store), _spooled(store, settings)]   # before: the spool closes it
    return [EnrichedSinks(enrichments(settings),
                          sinks + _webhooks(settings) + _policies(settings))]


def _policies(settings: Settings) -> list[Sink]:
    """The sink performing the configured response policies (none without any)."""
    if not settings.response.policies:   # spares a run without them the actions' HTTP client
        return []
    from pipelines.response.policies import PolicySink

    sink = PolicySink.from_settings(settings)
    return [sink] if sink else []


def _webhooks(settings: Settings) -> list[Sink]:
    """The sink of the configured webhooks (none without any)."""
    try:
        sink = WebhookSink.from_settings(settings)
    except SpoolError as exc:
        raise Refused(str(exc)) from exc
    return [sink] if sink else []


def _spooled(store: Store, settings: Settings, owns_store: bool = True) -> Sink:
    try:
        return spooled_store_sink(store, settings, owns_store=owns_store)
    except SpoolError as exc:
        raise Refused(str(exc)) from exc


@contextmanager
def _progress_bar(total: int | None) -> Iterator[Progress | None]:
    """A progress bar on a terminal; nothing when standard error is not one."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc="replay", leave=False) as bar:
        yield lambda done, _total: bar.update(done)


def run_console(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = _open_store(settings)
    _serve(store, settings)
    return 0


def run_up(args: argparse.Namespace) -> int:
    settings = _with_packet_buffer(_settings(args))
    url = f"http://{settings.console.host}:{settings.console.port}/"
    with closing(cli_accounts.open_accounts(args)) as accounts:
        first_login = cli_accounts.first_run_login(accounts, url)
    store = _open_store(settings)
    stop = threading.Event()
    cli_reload.reload_on_sighup()
    sensor = threading.Thread(target=_demo_sensor, args=(store, settings, stop, args.config),
                              name="demo-sensor", daemon=True)
    sensor.start()
    print(f"Liaowang console: {url} "
          f"(store {settings.store.url}; replaying the demo capture)", file=sys.stderr)
    if first_login:
        print(first_login, file=sys.stderr)
    try:
        _serve(store, settings)
    finally:
        stop.set()
        sensor.join(timeout=5)
    return 0


DEMO_PACKET_BUFFER_MB = 64


def _with_packet_buffer(settings: Settings) -> Settings:
    """``up`` keeps the demo's recent packets (in a small buffer unless one is configured), so
    that its alerts' packets can be downloaded from the console."""
    if settings.sensor.packet_buffer is not None:
        return settings
    from liaowang.config import PacketBufferSettings

    buffer = PacketBufferSettings(max_mb=DEMO_PACKET_BUFFER_MB)
    sensor = settings.sensor.model_copy(update={"packet_buffer": buffer})
    return settings.model_copy(update={"sensor": sensor})


def _demo_sensor(store: Store, settings: Settings, stop: threading.Event,
                 config: str | None = None) -> None:
    from pipelines.assets import AssetSink
    from sensor.demo import live_frames
    from sensor.engine import Sensor

    sensor = Sensor.from_settings(settings.sensor, pcap_file="demo.pcap")
    detectors = _detectors(argparse.Namespace(config=config), settings)
    sink = EnrichedSinks(enrichments(settings), [AssetSink(store),
                                                 _spooled(store, settings, owns_store=False),
                                                 *_webhooks(settings), *_policies(settings)])
    buffer = _packet_buffer(settings)
    for batch in live_frames(stop):
        if buffer is not None:
            buffer.write(batch)
        events = detect(detectors, sensor.process(batch))
        if events:
            sink.write(events)
            sink.flush()
    sink.write(detect(detectors, sensor.finish()))
    sink.close()
    if buffer is not None:
        buffer.close()


def _packet_buffer(settings: Settings) -> PacketBuffer | None:
    """The configured packet buffer; None (with a warning) when its folder cannot be used."""
    from pipelines.packets.buffer import PacketBuffer

    if settings.sensor.packet_buffer is None:
        return None
    try:
        return PacketBuffer.from_settings(settings.sensor.packet_buffer)
    except OSError as exc:
        print(f"liaowang: no packet buffer: {settings.sensor.packet_buffer.path}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return None


def _serve(store: Store, settings: Settings) -> None:
    import uvicorn

    from console.app import create_app

    app = create_app(store, settings)
    uvicorn.run(app, host=settings.console.host, port=settings.console.port, log_level="warning")


if __name__ == "__main__":
    raise SystemExit(main())
