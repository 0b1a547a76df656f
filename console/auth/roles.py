"""Roles of console accounts and tokens.

People's roles are ranked, each allowed what the one below it is, and more: viewer < analyst <
admin. ``sensor`` stands apart, for the tokens of sensors: it may ingest events and send
heartbeats, and nothing else; no other role may do those, so a leaked viewer token cannot
inject events, and a leaked sensor token cannot read any.

>>> Role.analyst.allows(Role.viewer), Role.viewer.allows(Role.analyst)
(True, False)
>>> Role.admin.allows(Role.sensor), Role.sensor.allows(Role.viewer), Role.sensor.allows(Role.sensor)
(False, False, True)
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"      # reads the situation and the alerts
    analyst = "analyst"    # and triages alerts and hunts through events
    admin = "admin"        # and manages users, tokens, and reads the audit log
    sensor = "sensor"      # ships events and heartbeats, nothing else

    @property
    def rank(self) -> int:
        """The place among people's roles; -1 for ``sensor``, which is outside that order."""
        return PEOPLE.index(self) if self in PEOPLE else -1

    def allows(self, needed: Role) -> bool:
        if Role.sensor in (self, needed):
            return self is needed
        return self.rank >= needed.rank


PEOPLE = (Role.viewer, Role.analyst, Role.admin)
"""The roles of people, lowest first."""
