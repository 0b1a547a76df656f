"""``/api/rules``: the signature rules, their alerts of the last day, and switching them on or off.

Switching a rule off is an admin's act: it blinds detection for every analyst and every sensor
that follows this machine's rule switches, which is a change of the detection configuration,
not triage of an alert. A stolen analyst session could otherwise silence the very rule that
would reveal its owner; analysts deal with a noisy rule's alerts through triage, and ask an
admin to switch the rule off. Every switch is recorded in the audit log.

The switch is written to ``detection.overrides_file``; the detectors of ``liaowang up`` and of
sensors that share the configuration follow it within about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from console.api.deps import AccountsDep, AdminDep, StoreDep, ViewerDep, client_ip
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from console.rules import RuleCatalog, RuleSummary
from detection.sigma.overrides import OverridesError
from pipelines.store.base import Store, TimeRange

router = APIRouter(prefix="/api/rules", tags=["rules"], responses={
    **AUTH_RESPONSES,
    503: {"model": ErrorPublic, "description": "the store or the rule switches file cannot "
                                               "be read"}})

NOT_FOUND = "no rule with this id"
T = TypeVar("T")
MAX_RULES = 10_000


class RulePublic(BaseModel):
    id: str
    name: str | None
    title: str
    description: str
    level: str = Field(description="the Sigma level: informational, low, medium, high, critical")
    dataset: str | None
    correlation: bool
    tags: list[str]
    techniques: list[str] = Field(description="MITRE ATT&CK (for ICS) or FiGHT technique ids")
    enabled: bool
    alerts_24h: int | None = Field(None, description="its alerts in the last 24 hours")


class RulesPublic(BaseModel):
    data: list[RulePublic]
    count: int


class RulePatch(BaseModel):
    enabled: bool


def catalog(request: Request) -> RuleCatalog:
    state = request.app.state
    if getattr(state, "rules", None) is None:
        state.rules = RuleCatalog(state.settings)
    rules: RuleCatalog = state.rules
    return rules


@router.get("", response_model=RulesPublic)
def list_rules(_: ViewerDep, request: Request, store: StoreDep) -> RulesPublic:
    """Every loaded rule, by title, with its alerts of the last 24 hours."""
    rules = _read(catalog(request).rules)
    counts = alert_counts(store)
    data = [_public(rule, counts.get(rule.id, 0)) for rule in rules]
    return RulesPublic(data=data, count=len(data))


@router.patch("/{rule_id}", response_model=RulePublic, responses={404: {"model": ErrorPublic}})
def switch_rule(caller: AdminDep, request: Request, store: StoreDep, accounts: AccountsDep,
                rule_id: str, patch: RulePatch) -> RulePublic:
    """Switch a rule on or off for detection on this machine."""
    rules = catalog(request)
    if _read(lambda: rules.rule(rule_id)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    _read(lambda: rules.set_enabled(rule_id, patch.enabled))
    action = "rule.enable" if patch.enabled else "rule.disable"
    accounts.audit.record(caller.actor, action, rule_id, client_ip(request))
    rule = _read(lambda: rules.rule(rule_id))
    if rule is None:  # its file went away meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return _public(rule, alert_counts(store).get(rule_id, 0))


def alert_counts(store: Store) -> dict[str, int]:
    """Alerts per rule id over the last 24 hours (one terms aggregation)."""
    since = datetime.now(UTC) - timedelta(days=1)
    when = TimeRange(f"{since:%Y-%m-%dT%H:%M:%S.%f}Z", None)
    buckets = store.terms("rule.id", "event.kind:alert", when, size=MAX_RULES)
    return {str(bucket.key): bucket.count for bucket in buckets}


def _read(call: Callable[[], T]) -> T:
    try:
        return call()
    except OverridesError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


def _public(rule: RuleSummary, alerts_24h: int) -> RulePublic:
    return RulePublic(id=rule.id, name=rule.name, title=rule.title,
                      description=rule.description, level=rule.level, dataset=rule.dataset,
                      correlation=rule.correlation, tags=list(rule.tags),
                      techniques=list(rule.techniques), enabled=rule.enabled,
                      alerts_24h=alerts_24h)
