"""Roles of console accounts, each allowed what the one below it is, and more.

>>> Role.analyst.allows(Role.viewer), Role.viewer.allows(Role.analyst)
(True, False)
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"      # reads the situation and the alerts
    analyst = "analyst"    # and triages alerts and hunts through events
    admin = "admin"        # and manages users, tokens, and reads the audit log

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank
