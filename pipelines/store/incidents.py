"""What every store does the same way with incidents (documents of ``detection.incidents``).

Incidents reach a store in two ways: through :meth:`~pipelines.store.base.Store.write` with the
events of a batch (the sensor's path, through the spool), which hands them on with
:func:`split_incidents`, or straight through ``write_incidents``. Either way they are kept apart
from events: they are rewritten as alerts join them and triaged by analysts, so an event search
never sees them. A new version from the correlator replaces the stored one except for the triage
fields an analyst set (:func:`keep_triage`).

>>> stored = {"incident": {"state": "open", "status": "acknowledged", "assignee": "ana"}}
>>> keep_triage({"incident": {"state": "closed"}}, stored)
{'incident': {'state': 'closed', 'status': 'acknowledged', 'assignee': 'ana'}}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from detection.incidents import DATASET, KIND, TRIAGE_FIELDS
from liaowang.events import get_field
from pipelines.store.base import Event, QueryError, StoreError

if TYPE_CHECKING:
    from pipelines.store.base import TimeRange

STATES = ("open", "closed")
Sort = Literal["last_seen", "risk"]


@dataclass(slots=True)
class IncidentFilter:
    """Which incidents a search returns; every filter left at None matches all.

    ``status`` is the triage status (``new`` also matches incidents never triaged), ``state``
    ``open`` or ``closed``, ``when`` bounds the time of the last alert. ``sort``: ``last_seen``
    (most recent activity first) or ``risk`` (highest risk score first, then most recent)."""

    status: str | None = None
    state: str | None = None
    min_severity: int | None = None
    when: TimeRange | None = None
    sort: Sort = "last_seen"

    def __post_init__(self) -> None:
        if self.sort not in ("last_seen", "risk"):
            raise QueryError(f"sort must be last_seen or risk, not {self.sort!r}")
        if self.state is not None and self.state not in STATES:
            raise QueryError(f"state must be open or closed, not {self.state!r}")


def is_incident(document: Event) -> bool:
    return bool(get_field(document, "event.kind") == KIND and
                get_field(document, "event.dataset") == DATASET)


def split_incidents(documents: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """``(events and alerts, incidents)`` of a batch, each in its order."""
    events: list[Event] = []
    incidents: list[Event] = []
    for document in documents:
        (incidents if is_incident(document) else events).append(document)
    return events, incidents


def check_incident(document: Event) -> str:
    """The id of a storable incident; a :class:`StoreError` names what is missing."""
    incident_id = get_field(document, "event.id")
    if not isinstance(incident_id, str) or not is_incident(document):
        raise StoreError(f"not an incident (event.kind {KIND}, event.dataset {DATASET}, an "
                         f"event.id): {incident_id!r}")
    if not isinstance(document.get("@timestamp"), str):
        raise StoreError(f"incident {incident_id!r} has no @timestamp")
    return incident_id


def keep_triage(incident: Event, stored: Event | None) -> Event:
    """``incident`` with the triage fields of its ``stored`` version (the input is not changed)."""
    triage = {name: value for name in TRIAGE_FIELDS
              if (value := get_field(stored or {}, f"incident.{name}")) is not None}
    if not triage:
        return incident
    return {**incident, "incident": {**incident.get("incident", {}), **triage}}


def check_update(incident: Event, incident_id: str) -> None:
    identity = get_field(incident, "event.id"), is_incident(incident)
    if identity != (incident_id, True):
        raise StoreError("an update cannot change event.id, event.kind or event.dataset")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    """The sort values of a cursor that must hold ``length`` of them, the last an id."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (TypeError, ValueError) as exc:
        raise QueryError("invalid cursor") from exc
    if not (isinstance(values, list) and len(values) == length and isinstance(values[-1], str)
            and all(isinstance(v, int | float) and not isinstance(v, bool)
                    for v in values[:-1])):
        raise QueryError("invalid cursor")
    return values
