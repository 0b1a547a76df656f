"""Threat-intelligence indicators matched against every event's addresses and domains.

Indicator files are named by ``intel: {files: [...]}``:

- **CSV** (``.csv``), with a header row: ``indicator``, ``type`` (``ip``, ``cidr`` or ``domain``),
  and optionally ``description`` and ``severity`` (1-4 or low/medium/high/critical);
- **STIX 2.1** bundles (``.json``): each ``indicator`` object whose pattern compares
  ``ipv4-addr:value`` / ``ipv6-addr:value`` (``=`` an address, or ``ISSUBSET`` a network) or
  ``domain-name:value`` (``=``), alone or joined by ``OR``. Patterns that need several
  observations together (``AND``, ``FOLLOWEDBY``) and other object types are skipped and
  counted, since an address alone cannot satisfy them; revoked indicators are skipped too. The
  severity is the custom property ``x_severity`` when present.

A file that cannot be read is refused with :class:`~liaowang.config.ConfigError` naming the file
and the line (CSV) or the entry (STIX). An event whose ``source.ip`` or ``destination.ip`` lies
in a listed network, or whose domain field (:data:`DOMAIN_FIELDS`: the SBI authority, Diameter
hosts, the PFCP node id) is a listed domain or below one, gets ECS ``threat.enrichments.*``
entries, and each match raises an alert, ``rule.id: liaowang-intel-match``, with the
indicator's severity; fusion then scores and folds those like any other alert.
"""

from __future__ import annotations

import copy
import csv
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from liaowang.assets import PrefixTable
from liaowang.config import ConfigError
from liaowang.events import event_id, get_field, new_event
from liaowang.schema import DATASETS
from pipelines.sinks.base import Event

RULE = {"id": "liaowang-intel-match", "name": "Traffic with a listed threat indicator",
        "ruleset": "intel"}
SEVERITY_WORDS = {"low": 1, "medium": 2, "high": 3, "critical": 4}
TYPES = ("ip", "cidr", "domain")
ADDRESS_FIELDS = ("source.ip", "destination.ip")
DOMAIN_FIELDS = ("url.domain", "diameter.origin_host", "diameter.destination_host",
                 "pfcp.node_id", "dns.question.name")
# The domain fields each dataset's schema declares: most events (flows) have none to look at.
DOMAINS_OF = {dataset: tuple(name for name in DOMAIN_FIELDS if name in fields)
              for dataset, fields in DATASETS.items()}
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*"
                    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
LOOKUP_CACHE = 65_536


@dataclass(frozen=True, slots=True)
class Indicator:
    """One listed value: an address or network (``ip``, ``cidr``) or a ``domain``."""

    value: str
    type: str
    severity: int
    description: str = ""
    provider: str = ""
    id: str = ""


# --- reading files ------------------------------------------------------------------------------

def load_indicators(paths: Iterable[str], severity: int = 3) -> tuple[list[Indicator], int]:
    """The indicators of every file, and how many STIX indicators were skipped."""
    indicators: list[Indicator] = []
    skipped = 0
    for path in paths:
        if path.lower().endswith(".csv"):
            indicators += load_csv(path, severity)
        elif path.lower().endswith(".json"):
            found, passed_over = load_stix(path, severity)
            indicators += found
            skipped += passed_over
        else:
            raise ConfigError(path, None, "", "indicator files are .csv or .json (STIX 2.1)")
    return indicators, skipped


def load_csv(path: str, severity: int = 3) -> list[Indicator]:
    """The rows of a CSV indicator file (blank rows and rows starting with ``#`` skipped)."""
    with _opened(path) as handle:
        reader = csv.DictReader(handle)
        missing = {"indicator", "type"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(path, 1, "", f"the header lacks {', '.join(sorted(missing))}")
        indicators = []
        for row in reader:
            value = (row.get("indicator") or "").strip()
            if not value or value.startswith("#"):
                continue
            try:
                indicators.append(_csv_indicator(row, value, severity, path, reader.line_num))
            except ValueError as exc:
                raise ConfigError(path, reader.line_num, "", str(exc)) from exc
        return indicators


def _csv_indicator(row: dict[str, Any], value: str, default: int, path: str,
                   line: int) -> Indicator:
    kind = (row.get("type") or "").strip().lower()
    if kind not in TYPES:
        raise ValueError(f"type {kind!r}: use {', '.join(TYPES)}")
    return Indicator(normalised(value, kind), kind, severity_level(row.get("severity"), default),
                     (row.get("description") or "").strip(), Path(path).name,
                     f"{Path(path).name}:{line}")


def load_stix(path: str, severity: int = 3) -> tuple[list[Indicator], int]:
    """The address and domain indicators of a STIX 2.1 bundle, and how many were skipped."""
    import stix2
    import stix2.exceptions

    with _opened(path) as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ConfigError(path, exc.lineno, "", f"not JSON: {exc.msg}") from exc
    objects = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(objects, list):
        raise ConfigError(path, None, "", "not a STIX bundle: no list of 'objects'")
    indicators: list[Indicator] = []
    skipped = 0
    for index, entry in enumerate(objects):
        if not isinstance(entry, dict) or entry.get("type") != "indicator":
            continue
        where = f"objects[{index}] {entry.get('id', '')}".strip()
        try:
            parsed = stix2.parse(entry, allow_custom=True, version="2.1")
            found = _stix_indicators(parsed, severity, Path(path).name)
        except (stix2.exceptions.STIXError, ValueError) as exc:
            raise ConfigError(path, None, where, str(exc).splitlines()[0]) from exc
        indicators += found
        skipped += not found
    return indicators, skipped


def _stix_indicators(indicator: Any, default: int, provider: str) -> list[Indicator]:
    from stix2patterns.v21.pattern import Pattern

    if indicator.get("pattern_type") != "stix" or indicator.get("revoked"):
        return []
    shape = Pattern(indicator.pattern).inspect()
    if shape.observation_ops - {"OR"} or shape.qualifiers:
        return []
    severity = severity_level(indicator.get("x_severity"), default)
    text = indicator.get("name") or indicator.get("description") or ""
    found = []
    for kind, value in _comparisons(shape.comparisons):
        found.append(Indicator(normalised(value, kind), kind, severity, text, provider,
                               indicator.id))
    return found


def _comparisons(comparisons: dict[str, list[tuple[list[Any], str, str]]]
                 ) -> Iterable[tuple[str, str]]:
    for object_type, tests in comparisons.items():
        for path, operator, literal in tests:
            if path != ["value"]:
                continue
            value = _unquoted(literal)
            if object_type in ("ipv4-addr", "ipv6-addr") and operator in ("=", "ISSUBSET"):
                yield ("cidr" if "/" in value else "ip"), value
            elif object_type == "domain-name" and operator == "=":
                yield "domain", value


def _unquoted(literal: str) -> str:
    """The text of a STIX pattern string literal (``'...'`` with ``\\'`` and ``\\\\``)."""
    inner = literal[1:-1] if len(literal) >= 2 and literal[0] == literal[-1] == "'" else literal
    return re.sub(r"\\(['\\])", r"\1", inner)


def _opened(path: str) -> Any:
    try:
        return open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, "", exc.strerror or str(exc)) from exc


def severity_level(value: Any, default: int) -> int:
    """1-4 from a number, a word, or ``default`` when empty; :class:`ValueError` otherwise."""
    text = str(value).strip().lower() if value is not None else ""
    if not text:
        return default
    level = SEVERITY_WORDS.get(text) or (int(text) if text.isdigit() else 0)
    if not 1 <= level <= 4:
        raise ValueError(f"severity {value!r}: use 1-4 or {', '.join(SEVERITY_WORDS)}")
    return level


def normalised(value: str, kind: str) -> str:
    """The indicator in the form events carry it; :class:`ValueError` when it is not one."""
    value = value.strip()
    if kind == "ip":
        return str(ipaddress.ip_address(value))
    if kind == "cidr":
        return str(ipaddress.ip_network(value, strict=False))
    domain = value.lower().rstrip(".")
    if not DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not a domain name")
    return domain


# --- matching -----------------------------------------------------------------------------------

class IndicatorSet:
    """Indicators by address (longest prefix) and by domain (the name or a parent of it)."""

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        self.networks: PrefixTable[Indicator] = PrefixTable()
        self.domains: dict[str, Indicator] = {}
        for indicator in indicators:
            if indicator.type == "domain":
                self.domains.setdefault(indicator.value, indicator)
            else:
                self.networks.add(indicator.value, indicator)
        self.address = lru_cache(maxsize=LOOKUP_CACHE)(self.networks.match)

    def __len__(self) -> int:
        return len(self.networks) + len(self.domains)

    def domain(self, name: str) -> Indicator | None:
        labels = name.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            hit = self.domains.get(".".join(labels[start:]))
            if hit is not None:
                return hit
        return self.domains.get(labels[-1]) if len(labels) == 1 else None


class IntelEnrichment:
    """The enrichment step: events that match get ``threat.enrichments``, and an alert each."""

    def __init__(self, indicators: IndicatorSet) -> None:
        self.indicators = indicators

    @classmethod
    def from_files(cls, paths: Sequence[str], severity: int = 3) -> IntelEnrichment:
        found, _skipped = load_indicators(paths, severity)
        return cls(IndicatorSet(found))

    def __call__(self, events: list[Event]) -> list[Event]:
        alerts = []
        for event in events:
            if event.get("event", {}).get("kind") == "alert":
                continue
            matches = self.matches(event)
            if matches:
                _enrich(event, matches)
                alerts += [intel_alert(event, field, value, hit) for field, value, hit in matches]
        return events + alerts if alerts else events

    def matches(self, event: Event) -> list[tuple[str, str, Indicator]]:
        """(field, value, indicator) of each listed value the event carries."""
        found = []
        for name in ADDRESS_FIELDS:
            value = get_field(event, name)
            if isinstance(value, str) and (hit := self.indicators.address(value)):
                found.append((name, value, hit))
        for name in DOMAINS_OF.get(event["event"].get("dataset"), ()):
            value = get_field(event, name)
            if isinstance(value, str) and (hit := self.indicators.domain(value)):
                found.append((name, value, hit))
        return found


def _enrich(event: Event, matches: list[tuple[str, str, Indicator]]) -> None:
    event.setdefault("threat", {})["enrichments"] = {
        "matched": {"atomic": [value for _, value, _ in matches],
                    "field": [name for name, _, _ in matches]},
        "indicator": {"name": [hit.value for _, _, hit in matches],
                      "type": [hit.type for _, _, hit in matches],
                      "description": [hit.description for _, _, hit in matches],
                      "severity": [hit.severity for _, _, hit in matches],
                      "provider": [hit.provider for _, _, hit in matches]}}


def intel_alert(event: Event, field: str, value: str, indicator: Indicator) -> Event:
    """The alert of one match: the event's endpoints and protocol detail, and the indicator."""
    meta = event["event"]
    alert = new_event(meta["dataset"], 0, get_field(event, "observer.name") or "liaowang",
                      kind="alert")
    alert["@timestamp"] = event["@timestamp"]
    for key, item in event.items():
        if key not in ("@timestamp", "event", "observer", "threat"):
            alert[key] = copy.deepcopy(item)
    about = f": {indicator.description}" if indicator.description else ""
    alert["event"] |= {"id": event_id(RULE["id"], meta.get("id"), field, indicator.value),
                       "severity": indicator.severity,
                       "reason": f"{field} {value} is listed ({indicator.provider}){about}"}
    alert["rule"] = dict(RULE)
    alert["threat"] = {"indicator": {"name": indicator.value, "type": indicator.type,
                                     "description": indicator.description,
                                     "provider": indicator.provider, "id": indicator.id}}
    evidence: dict[str, Any] = {"event_ids": [meta["id"]]} if meta.get("id") else {}
    if (frame := get_field(event, "pcap.frame")) is not None:
        evidence["frames"] = [frame]
    if evidence:
        alert["evidence"] = evidence
    return alert
