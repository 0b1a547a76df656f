"""``liaowang rules hunt RULE --from T --to T``: a rule over stored history.

``RULE`` is a rule file, or the id, name or title of a rule of the configured pack (``--rules``
or ``detection.rules_path``, else the shipped pack). Times are ISO 8601 or a span back from now
(``24h``). Each match is one line (time, event id, dataset, source → destination, pcap frame,
the fields the rule looks at), or with ``--json`` one JSON object per line; a summary (matches,
events read, the store query) goes to standard error. Exit 0 with or without matches; 2 when
the rule, a time, the store or the configuration is refused.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import orjson
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from liaowang.config import load_config
from liaowang.events import get_field
from pipelines.store import open_store, sqlite_path
from pipelines.store.base import TimeRange

if TYPE_CHECKING:   # the hunt's modules are imported by the hunt command only
    from pipelines.hunt import HuntResult


def add_parser(actions: argparse._SubParsersAction) -> None:
    action = actions.add_parser("hunt", help="run a rule over stored history")
    action.add_argument("rule", metavar="RULE", help="rule file, or rule id, name or title")
    action.add_argument("--from", dest="start", required=True, metavar="T",
                        help="start (ISO 8601, or a span back from now: 30m, 24h, 7d)")
    action.add_argument("--to", dest="end", metavar="T", help="end (default: now)")
    action.add_argument("--store", metavar="URL", help="store URL (default from the configuration)")
    action.add_argument("--config", metavar="FILE", help="YAML configuration file")
    action.add_argument("--rules", action="append", metavar="PATH",
                        help="rule pack to find RULE in (default: the configured one)")
    action.add_argument("--size", type=int, default=100, metavar="N",
                        help="list at most N matches, newest first (default 100)")
    action.add_argument("--json", action="store_true", help="one JSON object per match")
    action.set_defaults(run=run_hunt)


def run_hunt(args: argparse.Namespace) -> int:
    from console.cli import Refused
    from pipelines.hunt import HuntError, find_rule, hunt, time_bound

    settings = load_config(args.config)
    pack_paths = args.rules or [settings.detection.rules_path or _shipped()]
    try:
        when = TimeRange(time_bound(args.start), time_bound(args.end) if args.end else None)
        rule, pack = find_rule(args.rule, pack_paths)
        url = args.store or settings.store.url
        _existing(url)
        with open_store(url, ca_file=settings.store.ca_file,
                        verify=settings.store.verify) as store:
            result = hunt(store, rule, pack, when, args.size, settings.detection.lists)
    except HuntError as exc:
        raise Refused(str(exc)) from exc
    _print(result, args.json)
    return 0


def _existing(url: str) -> None:
    """A hunt reads history: a SQLite file that is not there is a mistake, not a new store."""
    from pipelines.hunt import HuntError

    if url.lower().startswith("sqlite:") and not sqlite_path(url).is_file():
        raise HuntError(f"no store at {url}: the file {sqlite_path(url)} does not exist")


def _shipped() -> str:
    from detection.sigma.loader import SHIPPED_RULES

    return str(SHIPPED_RULES)


def _print(result: HuntResult, as_json: bool) -> None:
    fields = rule_fields(result.rule)
    for match in result.matches:
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(match) + b"\n")
        else:
            print(match_line(match, fields))
    sys.stdout.flush()
    more = " (stopped early: too many events to read)" if result.truncated else ""
    print(f"{len(result.matches)} matches of '{result.rule.title}', {result.scanned} events "
          f"read{more}; store query: {' | '.join(result.queries)}", file=sys.stderr)


def match_line(event: dict[str, Any], fields: list[str]) -> str:
    """One match as text: time, id, dataset, endpoints, frame, then the rule's fields."""
    meta = event.get("event", {})
    parts = [str(event.get("@timestamp")), str(meta.get("id")), str(meta.get("dataset")),
             f"{_endpoint(event, 'source')} -> {_endpoint(event, 'destination')}"]
    frame = get_field(event, "pcap.frame")
    if frame is not None:
        parts.append(f"frame={frame}")
    if meta.get("kind") == "alert":
        parts.append(f"evidence={','.join(get_field(event, 'evidence.event_ids') or [])}")
    parts += [f"{name}={value}" for name in fields
              if (value := get_field(event, name)) is not None]
    return "  ".join(parts)


def _endpoint(event: dict[str, Any], side: str) -> str:
    ip, port = get_field(event, f"{side}.ip"), get_field(event, f"{side}.port")
    if ip is None:
        return "-"
    return f"[{ip}]:{port}" if ":" in str(ip) and port is not None else (
        f"{ip}:{port}" if port is not None else str(ip))


def rule_fields(rule: SigmaRule | SigmaCorrelationRule) -> list[str]:
    """The fields a rule looks at (a correlation: its group-by fields), in rule order."""
    if isinstance(rule, SigmaCorrelationRule):
        return list(rule.group_by or [])
    names: dict[str, None] = {}
    for detection in rule.detection.detections.values():
        _collect(detection, names)
    return [name for name in names if name not in {"event.dataset", "event.kind"}]


def _collect(node: SigmaDetection | SigmaDetectionItem, names: dict[str, None]) -> None:
    if isinstance(node, SigmaDetectionItem):
        if node.field:
            names[node.field] = None
        return
    for item in node.detection_items:
        _collect(item, names)
