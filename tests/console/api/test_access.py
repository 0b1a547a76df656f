"""Who may call what: every API route of the app, for no credentials and for every role.

The table below must list every route the app has (a new route fails the first test until it
is given its role here), and each route is then called anonymously (401), by every role its own
does not allow (403: people's roles below it, and ``sensor`` for people's routes or people for
the sensor's), and by the roles it allows (allowed). Cookie sessions must also send their CSRF
token on every state-changing route that people may use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from console.auth.accounts import Accounts
from console.auth.roles import Role
from detection.incidents import incident_id
from liaowang.config import PipelineSettings, SpoolSettings, WebhookSettings
from pipelines.assets import AssetSink
from pipelines.store.base import Event, Store
from pipelines.webhooks.base import Message
from pipelines.webhooks.ledger import Ledger
from pipelines.webhooks.targets import target_folder
from tests.console.conftest import password_of

# The page itself holds no data: it loads, then logs in through the API.
PUBLIC = {("GET", "/"), ("GET", "/api/health"), ("POST", "/api/auth/login")}
S7_STOP_RULE = "c4f69ec5-e730-5378-8b1c-75ba789ae311"  # a shipped rule: "S7comm PLC stop request"

MINIMUM_ROLE: dict[tuple[str, str], Role] = {
    ("POST", "/api/auth/logout"): Role.viewer,
    ("GET", "/api/auth/me"): Role.viewer,
    ("GET", "/api/overview"): Role.viewer,
    ("GET", "/api/alerts"): Role.viewer,
    ("GET", "/api/alerts/{alert_id}"): Role.viewer,
    ("GET", "/api/stream/alerts"): Role.viewer,
    ("PATCH", "/api/alerts/{alert_id}"): Role.analyst,
    ("POST", "/api/alerts/bulk"): Role.analyst,
    ("GET", "/api/events"): Role.analyst,
    ("GET", "/api/events/histogram"): Role.analyst,
    ("GET", "/api/events/terms"): Role.analyst,
    ("GET", "/api/events/{event_id}"): Role.analyst,
    ("GET", "/api/users"): Role.admin,
    ("POST", "/api/users"): Role.admin,
    ("DELETE", "/api/users/{username}"): Role.admin,
    ("GET", "/api/tokens"): Role.admin,
    ("POST", "/api/tokens"): Role.admin,
    ("DELETE", "/api/tokens/{token_id}"): Role.admin,
    ("GET", "/api/audit"): Role.admin,
    ("GET", "/api/sensors"): Role.viewer,
    ("GET", "/api/rules"): Role.viewer,
    ("PATCH", "/api/rules/{rule_id}"): Role.admin,
    ("POST", "/api/ingest"): Role.sensor,
    ("POST", "/api/sensors/heartbeat"): Role.sensor,
    # Actions change the network; packets carry subscriber data; webhook URLs carry tokens.
    ("POST", "/api/alerts/{alert_id}/actions"): Role.analyst,
    ("POST", "/api/incidents/{incident_id}/actions"): Role.analyst,
    ("GET", "/api/actions"): Role.analyst,
    ("GET", "/api/alerts/{alert_id}/pcap"): Role.analyst,
    ("GET", "/api/webhooks"): Role.admin,
    ("GET", "/api/webhooks/deliveries"): Role.admin,
    ("GET", "/api/webhooks/dead-letters"): Role.admin,
    ("POST", "/api/webhooks/dead-letters/{key}/replay"): Role.admin,
    ("GET", "/api/incidents"): Role.viewer,
    ("GET", "/api/incidents/{incident_id}"): Role.viewer,
    ("PATCH", "/api/incidents/{incident_id}"): Role.analyst,
    ("GET", "/api/assets"): Role.viewer,
    ("GET", "/api/assets/{ip}"): Role.viewer,
    ("GET", "/api/saved-queries"): Role.analyst,
    ("POST", "/api/saved-queries"): Role.analyst,
    ("DELETE", "/api/saved-queries/{query_id}"): Role.analyst,
}

DEAD_LETTER = "dead-alert-1"


@pytest.fixture(autouse=True)
def _incident_stored(incident: Event) -> None:
    """The incident of the alerts, for the incident routes (opened by the earliest alert)."""


@pytest.fixture(autouse=True)
def _assets_stored(store: Store, events: dict[str, Event]) -> None:
    """The inventory of the fixture events, for the asset routes."""
    sink = AssetSink(store)
    sink.write(list(events.values()))
    sink.close()


@pytest.fixture
def app(app: FastAPI, tmp_path: Path) -> FastAPI:
    """The app of the console tests, with a webhook target holding one dead letter."""
    settings = app.state.settings.model_copy(update={
        "webhooks": (WebhookSettings(name="soc", url="http://127.0.0.1:9/hook"),),
        "pipelines": PipelineSettings(spool=SpoolSettings(path=str(tmp_path / "spool")))})
    ledger = Ledger(target_folder(settings, "soc") / "deliveries.db")
    alert = {"event": {"id": DEAD_LETTER, "kind": "alert"}}
    ledger.record(Message((alert,), queued_at=0.0), "dead", 3, "HTTP 503")
    ledger.close()
    app.state.settings = settings
    return app


CASES = [(method, path, role, caller) for (method, path), role in MINIMUM_ROLE.items()
         for caller in [None, *Role]]
UNSAFE = [route for route, role in MINIMUM_ROLE.items()
          if route[0] not in ("GET", "HEAD") and Role.admin.allows(role)]


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every API route, those of included routers too."""
    return {(method, context.path) for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
            for method in context.original_route.methods - {"HEAD"}}


def concrete(method: str, path: str, alerts: dict[str, Event], events: dict[str, Event],
             accounts: Accounts) -> tuple[str, dict[str, Any]]:
    """A request that the allowed roles can make successfully: its URL and keyword arguments."""
    alert_id = alerts["write"]["event"]["id"]
    token_id = next(t.id for t in accounts.tokens.list() if t.name == "viewer-automation")
    url = path.format(alert_id=alert_id, event_id=events["flow"]["event"]["id"],
                      username="viewer", token_id=token_id, rule_id=S7_STOP_RULE,
                      key=DEAD_LETTER, ip=events["flow"]["source"]["ip"], query_id=1,
                      incident_id=incident_id(min(
                          alerts.values(), key=lambda a: a["@timestamp"])["event"]["id"]))
    bodies = {
        ("PATCH", "/api/alerts/{alert_id}"): {"status": "acknowledged"},
        ("POST", "/api/alerts/bulk"): {"ids": [alert_id], "status": "in_progress"},
        ("POST", "/api/users"): {"username": "newcomer", "password": "long enough password",
                                 "role": "viewer"},
        ("POST", "/api/tokens"): {"name": "ci", "role": "viewer"},
        ("POST", "/api/alerts/{alert_id}/actions"): {"kind": "block", "reason": "access test"},
        ("POST", "/api/incidents/{incident_id}/actions"): {"kind": "block",
                                                           "reason": "access test"},
        ("PATCH", "/api/rules/{rule_id}"): {"enabled": False},
        ("PATCH", "/api/incidents/{incident_id}"): {"status": "acknowledged"},
        ("POST", "/api/saved-queries"): {"name": "writes", "query": "modbus.function_code:16"},
        ("POST", "/api/sensors/heartbeat"): {"name": "tap9", "version": "0.1.0",
                                             "started": "2026-01-01T00:00:00Z"},
    }
    params = {"/api/events/terms": {"field": "event.dataset"}}
    content = {"/api/ingest": b""}   # an empty batch: nothing to spool
    return url, {"json": bodies.get((method, path)), "params": params.get(path),
                 "content": content.get(path)}


def call(client: TestClient, method: str, url: str, **kwargs: Any) -> int:
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if url.startswith("/api/stream/"):
        with client.stream(method, url, **kwargs) as response:
            return response.status_code
    return client.request(method, url, **kwargs).status_code


def test_every_route_has_a_role(app: FastAPI) -> None:
    routes = api_routes(app)
    assert routes - PUBLIC - MINIMUM_ROLE.keys() == set(), "give each new route its role here"
    assert PUBLIC | MINIMUM_ROLE.keys() <= routes


def test_public_routes_need_no_credentials(anonymous: TestClient) -> None:
    assert anonymous.get("/api/health").status_code == 200
    response = anonymous.post("/api/auth/login",
                              json={"username": "viewer", "password": password_of("viewer")})
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path", "needed", "caller"), CASES,
                         ids=[f"{m} {p} as {c or 'anonymous'}" for m, p, _, c in CASES])
def test_access_matrix(method: str, path: str, needed: Role, caller: Role | None,
                       anonymous: TestClient, client_as: Callable[[Role], TestClient],
                       alerts: dict[str, Event], events: dict[str, Event],
                       accounts: Accounts) -> None:
    url, kwargs = concrete(method, path, alerts, events, accounts)
    client = anonymous if caller is None else client_as(caller)
    status = call(client, method, url, **kwargs)
    if caller is None:
        assert status == 401
    elif not caller.allows(needed):
        assert status == 403
    else:
        assert 200 <= status < 300, f"{caller} should be allowed: {status}"


def session_client(app: FastAPI, role: Role) -> tuple[TestClient, str]:
    client = TestClient(app)
    response = client.post("/api/auth/login",
                           json={"username": role.value, "password": password_of(role)})
    assert response.status_code == 200
    return client, response.json()["csrf_token"]


@pytest.mark.parametrize(("method", "path"), UNSAFE, ids=[f"{m} {p}" for m, p in UNSAFE])
def test_session_changes_need_the_csrf_token(method: str, path: str, app: FastAPI,
                                             alerts: dict[str, Event],
                                             events: dict[str, Event],
                                             accounts: Accounts) -> None:
    url, kwargs = concrete(method, path, alerts, events, accounts)
    client, csrf_token = session_client(app, Role.admin)
    with client:
        assert call(client, method, url, **kwargs) == 403
        assert call(client, method, url, headers={"X-CSRF-Token": "forged"}, **kwargs) == 403
        status = call(client, method, url, headers={"X-CSRF-Token": csrf_token}, **kwargs)
        assert 200 <= status < 300


def test_session_reads_need_no_csrf_token(app: FastAPI, alerts: dict[str, Event]) -> None:
    client, _ = session_client(app, Role.viewer)
    with client:
        assert client.get("/api/alerts").json()["count"] == len(alerts)
