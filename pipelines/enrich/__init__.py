"""Enrichment: steps that change events between the sensor and the sinks.

An enrichment is a callable taking a batch of events and returning it (changed in place or new).
:func:`enrichments` builds the steps a configuration asks for, in order; :class:`EnrichedSinks`
puts them in front of the sinks, so that no path reaches a sink around them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from liaowang.config import Settings
from pipelines.sinks.base import Event, Sink

Enrichment = Callable[[list[Event]], list[Event]]


def enrichments(settings: Settings) -> list[Enrichment]:
    from pipelines.enrich.subscribers import SubscriberIds

    steps: list[Enrichment] = []
    if settings.privacy.subscriber_ids == "pseudonymise":
        steps.append(SubscriberIds.from_settings(settings.privacy))
    return steps


class EnrichedSinks(Sink):
    """One sink that enriches each batch, then hands it to every sink behind it."""

    def __init__(self, steps: Sequence[Enrichment], sinks: Sequence[Sink]) -> None:
        self.steps, self.sinks = list(steps), list(sinks)

    def write(self, events: Sequence[Event]) -> None:
        batch = list(events)
        for step in self.steps:
            batch = step(batch)
        for sink in self.sinks:
            sink.write(batch)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
