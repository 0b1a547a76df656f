"""Correlation of alerts into incidents: one attack, one thing to triage.

:class:`IncidentCorrelator` sees every event and alert, and returns incident documents. It keeps
the detector contract (``process``, ``finish``) and is also a pipeline step (called on a batch,
it returns the batch followed by the incidents it changed): every mode that makes alerts runs it
after fusion (:func:`pipelines.enrich.enrichments`), so it groups the alerts the sinks receive,
with their risk scores and zones, repeats already folded. An alert joins an open incident that
shares an asset with it (its source or destination address, or its Community ID) and was active
within ``window_s`` of it, on **event time**, so a replay groups exactly as the live run did.
Otherwise it opens a new incident. An incident records the kill-chain stages its alerts reached
(:mod:`detection.killchain`) and its severity escalates by one for each stage beyond the first
(an inventory, then writes, then a denial of service is critical, whatever each alert alone was).

State is bounded: an incident idle for longer than the window is closed (event time again), and
beyond ``max_open`` the least recently active is closed early; each keeps at most
``max_timeline`` timeline entries and alert ids (later stage changes are still recorded) and
:data:`MAX_VALUES` addresses, flows, zones, rules and techniques (only those it keeps join
further alerts to it).

The document. ECS has no incident kind, and incidents are not events: they change as alerts
arrive and as analysts triage them. So an incident is a document with ``event.kind: signal`` (ECS's
kind for what detection derives from other documents), ``event.dataset: incident``, its own
``incident.*`` namespace (``liaowang/schema/fields/incident.yml``), and it is kept by stores apart
from events (:meth:`~pipelines.store.base.Store.write_incidents`). Its id derives from the id of
the alert that opened it, so replaying a capture rewrites the same incidents instead of adding
copies. The correlator returns the whole, current document of every incident a batch changed;
triage fields (``incident.status``, ``incident.assignee``, ``incident.comments``) are never set
here, and stores keep those an analyst set when a newer version arrives.

>>> alert = {"@timestamp": "2015-10-22T10:00:00.000000Z", "observer": {"name": "tap1"},
...          "event": {"id": "a1", "kind": "alert", "dataset": "modbus", "severity": 1},
...          "source": {"ip": "10.0.0.9"}, "destination": {"ip": "10.0.0.2"},
...          "rule": {"id": "r1", "name": "Modbus device identification"},
...          "threat": {"tactic": {"name": ["Discovery"]}}}
>>> [incident] = IncidentCorrelator().process([alert])
>>> incident["incident"]["stages"], incident["incident"]["title"]
(['discovery'], 'Discovery on 10.0.0.2')
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from detection.killchain import STAGES, stage_of
from liaowang.events import Deadline, event_id, get_field, iso_timestamp, timestamp_us

Event = dict[str, Any]

KIND = "signal"
DATASET = "incident"
TRIAGE_FIELDS = ("status", "assignee", "comments")
SEVERITY_RISK = {1: 21.0, 2: 47.0, 3: 73.0, 4: 99.0}   # as the Sigma rule levels score
MAX_VALUES = 256   # addresses, flows, zones, rules, techniques kept per incident (a sweep has many)


@dataclass(slots=True)
class Incident:
    """The correlator's working copy of one incident."""

    id: str
    observer: str
    first_us: int
    last_us: int
    base_severity: int = 1
    risk_score: float = 0.0
    stages: list[str] = field(default_factory=list)
    ips: dict[str, None] = field(default_factory=dict)
    targets: Counter[str] = field(default_factory=Counter)     # destination → alerts to it
    community_ids: dict[str, None] = field(default_factory=dict)
    zones: dict[str, None] = field(default_factory=dict)
    rules: dict[str, None] = field(default_factory=dict)
    techniques: dict[str, None] = field(default_factory=dict)
    alert_ids: list[str] = field(default_factory=list)
    alert_count: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)
    state: str = "open"

    @property
    def severity(self) -> int:
        return min(4, self.base_severity + max(0, len(self.stages) - 1))


class IncidentCorrelator:
    """Alerts in, incident documents out (the :class:`~detection.base.Detector` contract)."""

    def __init__(self, window_s: float = 1800.0, max_open: int = 1000,
                 max_timeline: int = 200) -> None:
        if window_s <= 0 or max_open < 1 or max_timeline < 1:
            raise ValueError("window_s must be positive, max_open and max_timeline at least 1")
        self.window_us = int(window_s * 1_000_000)
        self.max_open = max_open
        self.max_timeline = max_timeline
        self.now_us = 0
        self._open: OrderedDict[str, Incident] = OrderedDict()   # least recently active first
        self._by_asset: dict[str, set[str]] = {}
        self._changed: dict[str, Incident] = {}
        self._idle_after = Deadline()   # when the least recently active incident closes

    @property
    def open_count(self) -> int:
        return len(self._open)

    def process(self, events: Sequence[Event]) -> list[Event]:
        """The documents of the incidents this batch opened, changed or closed. The clock moves
        event by event, so where batches begin and end changes no incident."""
        for event in events:
            meta = event.get("event")
            if isinstance(meta, dict) and meta.get("kind") == "alert":
                self._add(event)
            elif (ts := self._idle_after.passed_by(event)) is not None:
                self._advance(ts)
        return self._take_changed()

    def __call__(self, events: list[Event]) -> list[Event]:
        """As a pipeline step after fusion: the batch, then the incidents it changed."""
        incidents = self.process(events)
        return [*events, *incidents] if incidents else events

    def finish(self) -> list[Event]:
        """The end of the input closes every open incident."""
        for incident in list(self._open.values()):
            self._close(incident)
        self._watch_oldest()
        return self._take_changed()

    # --- correlation ----------------------------------------------------------------------------

    def _add(self, alert: Event) -> None:
        ts = timestamp_us(alert)
        if ts is None or not isinstance(get_field(alert, "event.id"), str):
            return
        self._advance(ts)
        assets = _assets(alert)
        incident = self._match(assets) or self._open_for(alert, ts)
        _join(incident, alert, ts, self.max_timeline)
        self._index(incident, [a for a in assets if a in incident.ips or
                               a in incident.community_ids])
        self._open.move_to_end(incident.id)
        self._changed[incident.id] = incident
        self._enforce_cap()
        self._watch_oldest()

    def _match(self, assets: Iterable[str]) -> Incident | None:
        """The most recently active open incident sharing an asset."""
        found = {incident_id for asset in assets for incident_id in self._by_asset.get(asset, ())}
        if not found:
            return None
        return max((self._open[i] for i in found), key=lambda inc: (inc.last_us, inc.id))

    def _open_for(self, alert: Event, ts: int) -> Incident:
        incident = Incident(id=incident_id(alert["event"]["id"]),
                            observer=get_field(alert, "observer.name") or "liaowang",
                            first_us=ts, last_us=ts)
        self._open[incident.id] = incident
        return incident

    def _index(self, incident: Incident, assets: Iterable[str]) -> None:
        for asset in assets:
            self._by_asset.setdefault(asset, set()).add(incident.id)

    def _advance(self, ts: int) -> None:
        """Move the clock to ``ts`` and close what has been idle for longer than the window."""
        if ts <= self.now_us:
            return
        self.now_us = ts
        while self._open:
            oldest = next(iter(self._open.values()))
            if oldest.last_us + self.window_us >= ts:
                break
            self._close(oldest)
        self._watch_oldest()

    def _watch_oldest(self) -> None:
        oldest = next(iter(self._open.values()), None)
        self._idle_after.set(None if oldest is None else oldest.last_us + self.window_us)

    def _enforce_cap(self) -> None:
        while len(self._open) > self.max_open:
            self._close(next(iter(self._open.values())))

    def _close(self, incident: Incident) -> None:
        incident.state = "closed"
        del self._open[incident.id]
        for asset in itertools.chain(incident.ips, incident.community_ids):
            holders = self._by_asset.get(asset)
            if holders is not None:
                holders.discard(incident.id)
                if not holders:
                    del self._by_asset[asset]
        self._changed[incident.id] = incident

    def _take_changed(self) -> list[Event]:
        documents = [to_document(incident) for incident in self._changed.values()]
        self._changed = {}
        return documents


def incident_id(first_alert_id: str) -> str:
    """The id of the incident that the alert ``first_alert_id`` opened: replays find it again."""
    return event_id(DATASET, first_alert_id)


def _assets(alert: Event) -> list[str]:
    """What ties alerts together: addresses, and the flow's Community ID."""
    assets = [get_field(alert, name) for name in ("source.ip", "destination.ip",
                                                  "network.community_id")]
    return [asset for asset in assets if isinstance(asset, str) and asset]


def _join(incident: Incident, alert: Event, ts: int, max_timeline: int) -> None:
    stage = stage_of(alert)
    new_stage = _reach(incident, stage)
    severity = _severity(alert)
    incident.base_severity = max(incident.base_severity, severity)
    incident.risk_score = max(incident.risk_score, _risk(alert, severity))
    incident.first_us, incident.last_us = min(incident.first_us, ts), max(incident.last_us, ts)
    incident.alert_count += 1
    _collect_assets(incident, alert)
    if len(incident.timeline) < max_timeline or new_stage:
        # in time order: alerts arrive out of it (fusion sends a repeat's summary when its
        # window closes, after the alerts that followed it)
        entry = _entry(alert, stage, severity)
        at = bisect_right(incident.timeline, entry["at"], key=itemgetter("at"))
        incident.alert_ids.insert(at, alert["event"]["id"])
        incident.timeline.insert(at, entry)


def _reach(incident: Incident, stage: str | None) -> bool:
    """Record ``stage`` among those reached, in kill-chain order; True when it is new."""
    if stage is None or stage in incident.stages:
        return False
    incident.stages = sorted([*incident.stages, stage], key=STAGES.index)
    return True


def _collect_assets(incident: Incident, alert: Event) -> None:
    for name, into in (("source.ip", incident.ips), ("destination.ip", incident.ips),
                       ("network.community_id", incident.community_ids),
                       ("source.zone", incident.zones), ("destination.zone", incident.zones),
                       ("rule.name", incident.rules)):
        _keep(into, get_field(alert, name))
    target = get_field(alert, "destination.ip")
    if isinstance(target, str) and (target in incident.targets or
                                    len(incident.targets) < MAX_VALUES):
        incident.targets[target] += 1
    techniques = get_field(alert, "threat.technique.id")
    for technique in techniques if isinstance(techniques, list) else ():
        _keep(incident.techniques, technique)


def _keep(into: dict[str, None], value: Any) -> None:
    """Add a text value, unless ``into`` already holds :data:`MAX_VALUES`."""
    if isinstance(value, str) and value and len(into) < MAX_VALUES:
        into[value] = None


def _severity(alert: Event) -> int:
    """The alert's severity; from its risk score when it has none (fusion may give only that)."""
    severity = get_field(alert, "event.severity")
    if isinstance(severity, int) and 1 <= severity <= 4:
        return severity
    risk = get_field(alert, "event.risk_score")
    if isinstance(risk, int | float):
        return 1 + sum(risk >= bound for bound in (25, 50, 75))
    return 1


def _risk(alert: Event, severity: int) -> float:
    risk = get_field(alert, "event.risk_score")
    return float(risk) if isinstance(risk, int | float) else SEVERITY_RISK[severity]


def _entry(alert: Event, stage: str | None, severity: int) -> dict[str, Any]:
    rule = get_field(alert, "rule.name") or get_field(alert, "rule.id") or "alert"
    source, target = get_field(alert, "source.ip"), get_field(alert, "destination.ip")
    route = " → ".join(str(ip) for ip in (source, target) if ip)
    return {"at": alert["@timestamp"], "alert_id": alert["event"]["id"], "rule": rule,
            "stage": stage, "severity": severity,
            "text": f"{rule}: {route}" if route else str(rule)}


def to_document(incident: Incident) -> Event:
    """The stored form of an incident (see the module docstring)."""
    doc: Event = {
        "@timestamp": iso_timestamp(incident.last_us),
        "event": {"id": incident.id, "kind": KIND, "dataset": DATASET,
                  "severity": incident.severity, "risk_score": incident.risk_score,
                  "start": iso_timestamp(incident.first_us),
                  "end": iso_timestamp(incident.last_us)},
        "observer": {"name": incident.observer},
        "incident": {
            "title": title(incident), "state": incident.state, "stages": incident.stages,
            "alert_count": incident.alert_count, "alert_ids": incident.alert_ids,
            "rules": list(incident.rules), "timeline": incident.timeline,
            "assets": _assets_field(incident),
        },
    }
    if incident.techniques:
        doc["threat"] = {"technique": {"id": list(incident.techniques)}}
    return doc


def _assets_field(incident: Incident) -> dict[str, list[str]]:
    assets = {"ip": list(incident.ips), "community_id": list(incident.community_ids),
              "zone": list(incident.zones)}
    return {name: values for name, values in assets.items() if values}


def title(incident: Incident) -> str:
    """``Discovery → command → impact on 10.0.0.2``: how far it went, and its most frequent
    target (the first seen among equals)."""
    chain = " → ".join(incident.stages).capitalize() or "Alerts"
    target = incident.targets.most_common(1)[0][0] if incident.targets else None
    return f"{chain} on {target}" if target else chain

