"""``/api/auth``: login, the session cookie, logout, expiry, the login rate limit, tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.auth.accounts import Accounts
from console.auth.roles import PEOPLE, Role
from tests.console.conftest import password_of


def login(client: TestClient, username: str, password: str | None = None) -> dict:
    response = client.post("/api/auth/login",
                           json={"username": username, "password": password or
                                 password_of(username)})
    assert response.status_code == 200, response.text
    return response.json()


def test_login_sets_a_strict_http_only_cookie(anonymous: TestClient) -> None:
    response = anonymous.post("/api/auth/login", json={"username": "analyst",
                                                       "password": password_of("analyst")})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "analyst" and body["role"] == "analyst"
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lw_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert anonymous.get("/api/auth/me").json() == body


def test_login_over_tls_sets_a_secure_cookie(app: FastAPI) -> None:
    with TestClient(app, base_url="https://console.example") as client:
        response = client.post("/api/auth/login", json={"username": "viewer",
                                                        "password": password_of("viewer")})
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(("username", "password"), [
    ("analyst", "wrong password"), ("nobody", "any password"), ("analyst", "")],
    ids=["wrong-password", "unknown-user", "empty-password"])
def test_bad_credentials(anonymous: TestClient, username: str, password: str) -> None:
    response = anonymous.post("/api/auth/login", json={"username": username,
                                                       "password": password})
    assert response.status_code in (401, 422)
    assert "set-cookie" not in response.headers
    assert anonymous.get("/api/auth/me").status_code == 401


def test_wrong_password_and_unknown_user_answer_alike(anonymous: TestClient) -> None:
    answers = [anonymous.post("/api/auth/login", json={"username": name, "password": "nope"})
               for name in ("analyst", "nobody")]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json() == {"detail": "invalid username or password"}


def test_logout_ends_the_session(anonymous: TestClient) -> None:
    csrf_token = login(anonymous, "viewer")["csrf_token"]
    cookie = anonymous.cookies["lw_session"]
    response = anonymous.post("/api/auth/logout", headers={"X-CSRF-Token": csrf_token})
    assert response.status_code == 204
    assert anonymous.get("/api/auth/me").status_code == 401
    # The old cookie is dead on the server, not merely dropped by the client.
    anonymous.cookies.set("lw_session", cookie)
    assert anonymous.get("/api/auth/me").status_code == 401


def test_session_expires(app: FastAPI, accounts: Accounts) -> None:
    now = [1_000_000.0]
    accounts.sessions._clock = lambda: now[0]
    with TestClient(app) as client:
        login(client, "viewer")
        now[0] += accounts.sessions.ttl_s - 1
        assert client.get("/api/auth/me").status_code == 200
        now[0] += 2
        response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert "log in again" in response.json()["detail"]


def test_deleting_a_user_ends_their_sessions(app: FastAPI, client: TestClient) -> None:
    with TestClient(app) as analyst:
        login(analyst, "analyst")
        assert client.delete("/api/users/analyst").status_code == 204
        assert analyst.get("/api/auth/me").status_code == 401


def test_login_is_rate_limited_per_username_and_source(anonymous: TestClient,
                                                       app: FastAPI) -> None:
    for _ in range(5):
        assert anonymous.post("/api/auth/login", json={"username": "analyst",
                                                       "password": "guess"}).status_code == 401
    refused = anonymous.post("/api/auth/login", json={"username": "analyst",
                                                      "password": password_of("analyst")})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 300
    # Another user from the same source, and the same user from elsewhere, may still log in.
    login(anonymous, "viewer")
    with TestClient(app, client=("192.0.2.50", 50000)) as elsewhere:
        login(elsewhere, "analyst")


def test_rate_limit_lifts_after_the_window(anonymous: TestClient, accounts: Accounts) -> None:
    now = [2_000_000.0]
    accounts.rate_limit._clock = lambda: now[0]
    for _ in range(5):
        anonymous.post("/api/auth/login", json={"username": "viewer", "password": "guess"})
    assert anonymous.post("/api/auth/login", json={"username": "viewer",
                                                   "password": "guess"}).status_code == 429
    now[0] += accounts.rate_limit.window_s + 1
    login(anonymous, "viewer")


def test_success_forgets_earlier_failures(anonymous: TestClient) -> None:
    for _ in range(4):
        anonymous.post("/api/auth/login", json={"username": "viewer", "password": "guess"})
    login(anonymous, "viewer")
    for _ in range(4):
        anonymous.post("/api/auth/login", json={"username": "viewer", "password": "guess"})
    login(anonymous, "viewer")


@pytest.mark.parametrize("role", PEOPLE)
def test_me_with_a_token(client_as: Callable[[Role], TestClient], role: Role) -> None:
    response = client_as(role).get("/api/auth/me")
    assert response.json() == {"username": f"{role}-automation", "role": role,
                               "csrf_token": None}


@pytest.mark.parametrize("header", ["Bearer lw_not-a-token", "Bearer ", "Basic dXNlcjpwdw=="])
def test_bad_authorization_is_401(anonymous: TestClient, header: str) -> None:
    response = anonymous.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_401(anonymous: TestClient, accounts: Accounts) -> None:
    _, secret = accounts.tokens.create("short-lived", Role.admin, "tests", expires_days=1)
    headers = {"Authorization": f"Bearer {secret}"}
    assert anonymous.get("/api/auth/me", headers=headers).status_code == 200
    accounts.tokens._clock = lambda: 4_102_444_800.0  # 2100-01-01
    assert anonymous.get("/api/auth/me", headers=headers).status_code == 401


def test_a_bearer_token_wins_over_a_cookie(anonymous: TestClient, tokens: dict) -> None:
    login(anonymous, "admin")
    response = anonymous.get("/api/auth/me",
                             headers={"Authorization": f"Bearer {tokens[Role.viewer]}"})
    assert response.json()["username"] == "viewer-automation"


def test_logins_are_audited(anonymous: TestClient, client: TestClient) -> None:
    anonymous.post("/api/auth/login", json={"username": "viewer", "password": "guess"})
    csrf_token = login(anonymous, "viewer")["csrf_token"]
    anonymous.post("/api/auth/logout", headers={"X-CSRF-Token": csrf_token})
    entries = client.get("/api/audit").json()["data"]
    assert [(e["username"], e["action"], e["source_ip"]) for e in entries[:3]] == [
        ("viewer", "auth.logout", "testclient"), ("viewer", "auth.login", "testclient"),
        ("viewer", "auth.login_failed", "testclient")]
