"""Enrichment: steps that change events between the sensor and the sinks.

An enrichment is a callable taking a batch of events and returning it (changed in place or new);
one that holds events back (fusion's repeats) also has ``finish()``, which returns them at the end.
:func:`enrichments` builds the steps a configuration asks for, in order: assets and zones, threat
intel (which adds its alerts), fusion (risk scores, repeats: every alert passes it), the
incident correlator (which adds incident documents), subscriber pseudonyms last.
:class:`EnrichedSinks` puts them in front of the sinks, so that no path reaches a sink around
them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from liaowang.config import Settings
from pipelines.sinks.base import Event, Sink

Enrichment = Callable[[list[Event]], list[Event]]


def enrichments(settings: Settings) -> list[Enrichment]:
    from detection.fusion import Fusion
    from detection.incidents import IncidentCorrelator
    from pipelines.enrich.assets import AssetEnrichment, asset_map
    from pipelines.enrich.intel import IntelEnrichment
    from pipelines.enrich.subscribers import SubscriberIds

    steps: list[Enrichment] = []
    assets = asset_map(settings)
    if assets:
        steps.append(AssetEnrichment(assets))
    if settings.intel.files:
        steps.append(IntelEnrichment.from_files(settings.intel.files, settings.intel.severity))
    fusion = settings.detection.fusion
    steps.append(Fusion(assets.lookup if assets else None, fusion.window_s, fusion.repeats))
    incidents = settings.detection.incidents
    if incidents.enabled:   # after fusion: it groups the alerts that reach the sinks
        steps.append(IncidentCorrelator(incidents.window_s, incidents.max_open))
    if settings.privacy.subscriber_ids == "pseudonymise":
        steps.append(SubscriberIds.from_settings(settings.privacy))
    return steps


class EnrichedSinks(Sink):
    """One sink that enriches each batch, then hands it to every sink behind it."""

    def __init__(self, steps: Sequence[Enrichment], sinks: Sequence[Sink]) -> None:
        self.steps, self.sinks = list(steps), list(sinks)
        self.alerts = 0                      # alerts handed to the sinks, after fusion
        self.incidents: set[str] = set()     # ids of the incidents handed to the sinks

    def write(self, events: Sequence[Event]) -> None:
        batch = list(events)
        for step in self.steps:
            batch = step(batch)
        self._deliver(batch)

    def _deliver(self, batch: list[Event]) -> None:
        for event in batch:
            kind = event["event"]["kind"]
            if kind == "alert":
                self.alerts += 1
            elif event["event"].get("dataset") == "incident":
                self.incidents.add(event["event"]["id"])
        for sink in self.sinks:
            sink.write(batch)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def finish(self) -> None:
        """Write what the steps still hold, each through the steps after it."""
        for index, step in enumerate(self.steps):
            finish = getattr(step, "finish", None)
            held = list(finish()) if finish else []
            for later in self.steps[index + 1:]:
                held = later(held) if held else held
            if held:
                self._deliver(held)
        for sink in self.sinks:
            sink.finish()

    def close(self) -> None:
        self.finish()
        for sink in self.sinks:
            sink.close()
