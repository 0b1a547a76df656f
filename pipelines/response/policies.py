"""Policies: actions performed automatically on the alerts of chosen rules, in every mode that
produces alerts (replay, live sensor, ``liaowang up``), as a sink beside the others.

A policy matches an alert by rule id, name or tag (``response.policies[].rules``). Its action's
id is derived from the policy and the alert, so an alert met twice is acted on once. The sink
remembers, per flow (community id) and for a bounded number of flows, the 5G-core session
identifiers its events carried, so that an ``isolate`` names the SEIDs and TEIDs seen.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from liaowang.config import ResponsePolicy, Settings
from liaowang.events import event_id, get_field
from pipelines.response import ActionError, ActionLog, perform, related_fields
from pipelines.sinks.base import Event, Sink
from pipelines.webhooks.filters import is_alert, rule_names

log = logging.getLogger(__name__)

MAX_FLOWS = 10_000          # flows whose session identifiers are remembered
MAX_PER_FLOW = 64           # remembered events per flow


class PolicySink(Sink):
    """Performs the configured policies' actions on the alerts written to it."""

    def __init__(self, settings: Settings, actions: ActionLog) -> None:
        self.settings, self.actions = settings.response, actions
        self.origin = f"policy on {settings.sensor.name}"
        self.performed = 0
        self._flows: OrderedDict[str, list[Event]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicySink | None:
        """The sink of the configured policies; None when there are none."""
        if not settings.response.policies:
            return None
        return cls(settings, ActionLog(settings.response.actions_db))

    def write(self, events: Sequence[Event]) -> None:
        for event in events:
            if is_alert(event):
                self._act(event)
            else:
                self._remember(event)

    def close(self) -> None:
        self.actions.close()

    def _act(self, alert: Event) -> None:
        names = rule_names(alert)
        for index, policy in enumerate(self.settings.policies):
            if names & set(policy.rules):
                self._perform(index, policy, alert)

    def _perform(self, index: int, policy: ResponsePolicy, alert: Event) -> None:
        alert_id = str(get_field(alert, "event.id"))
        related = self._flows.get(str(get_field(alert, "network.community_id")), [])
        try:
            perform(policy.action, alert, related, settings=self.settings, log=self.actions,
                    side=policy.target, reason=f"policy {index + 1}: rule "
                    f"{get_field(alert, 'rule.name')}", dry_run=policy.mode == "dry_run",
                    actor="policy", origin=self.origin,
                    action_id=event_id("action", index, policy.action, alert_id))
            self.performed += 1
        except ActionError as exc:
            log.warning("policy %d: no %s on alert %s: %s", index + 1, policy.action,
                        alert_id, exc)

    def _remember(self, event: Event) -> None:
        """Keep the session identifiers of a 5G-core event, per flow, bounded."""
        kept = {name: value for name in related_fields()
                if (value := get_field(event, name)) is not None}
        flow = kept.get("network.community_id")
        if flow is None or len(kept) == 1:
            return
        remembered = self._flows.setdefault(flow, [])
        self._flows.move_to_end(flow)
        if len(remembered) < MAX_PER_FLOW:
            remembered.append(_nest(kept))
        while len(self._flows) > MAX_FLOWS:
            self._flows.popitem(last=False)


def _nest(flat: dict[str, object]) -> Event:
    event: Event = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = event
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return event
