"""``/api/users``, ``/api/tokens``, ``/api/audit``: what admins manage, and its audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.auth.accounts import Accounts


def actions(client: TestClient, size: int) -> list[tuple[str, str, str]]:
    entries = client.get("/api/audit", params={"size": size}).json()["data"]
    return [(e["username"], e["action"], e["target"]) for e in entries]


def test_users_listed_without_secrets(client: TestClient) -> None:
    users = client.get("/api/users").json()["data"]
    assert [(u["username"], u["role"]) for u in users] == [
        ("admin", "admin"), ("analyst", "analyst"), ("sensor", "sensor"), ("viewer", "viewer")]
    assert all(set(u) == {"username", "role", "created_at"} for u in users)


def test_create_user_who_can_then_log_in(client: TestClient, anonymous: TestClient) -> None:
    response = client.post("/api/users", json={"username": "li.wei", "role": "analyst",
                                               "password": "a long passphrase"})
    assert response.status_code == 201
    assert response.json()["username"] == "li.wei"
    login = anonymous.post("/api/auth/login", json={"username": "li.wei",
                                                    "password": "a long passphrase"})
    assert login.json()["role"] == "analyst"
    assert actions(client, 2) == [("li.wei", "auth.login", ""),
                                  ("token:admin-automation", "user.create", "li.wei")]


@pytest.mark.parametrize(("body", "status"), [
    ({"username": "viewer", "password": "long enough pw", "role": "viewer"}, 409),
    ({"username": "new", "password": "short", "role": "viewer"}, 422),
    ({"username": "new", "password": "long enough pw", "role": "root"}, 422),
    ({"username": "no spaces", "password": "long enough pw", "role": "viewer"}, 422),
], ids=["taken", "short-password", "unknown-role", "bad-name"])
def test_create_user_refused(client: TestClient, body: dict[str, Any], status: int) -> None:
    response = client.post("/api/users", json=body)
    assert response.status_code == status
    assert response.json()["detail"]


def test_delete_user(client: TestClient) -> None:
    assert client.delete("/api/users/viewer").status_code == 204
    assert client.delete("/api/users/viewer").status_code == 404
    assert "viewer" not in {u["username"] for u in client.get("/api/users").json()["data"]}
    assert actions(client, 1) == [("token:admin-automation", "user.delete", "viewer")]


def test_the_last_admin_stays(client: TestClient) -> None:
    response = client.delete("/api/users/admin")
    assert response.status_code == 409
    assert "last admin" in response.json()["detail"]


def test_token_is_shown_once_and_works(client: TestClient, anonymous: TestClient) -> None:
    created = client.post("/api/tokens", json={"name": "sensor-7", "role": "analyst",
                                               "expires_days": 30})
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("lw_") and body["expires_at"]
    listed = {t["id"]: t for t in client.get("/api/tokens").json()["data"]}
    assert "token" not in listed[body["id"]]
    assert listed[body["id"]]["created_by"] == "token:admin-automation"
    me = anonymous.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json() == {"username": "sensor-7", "role": "analyst", "csrf_token": None}


def test_tokens_are_stored_hashed(client: TestClient, accounts: Accounts) -> None:
    secret = client.post("/api/tokens", json={"name": "ci", "role": "viewer"}).json()["token"]
    stored = [row[0] for row in accounts.db.fetch("SELECT secret_hash FROM tokens")]
    assert secret not in stored and all(len(value) == 64 for value in stored)


def test_revoked_token_stops_working(client: TestClient, anonymous: TestClient) -> None:
    body = client.post("/api/tokens", json={"name": "ci", "role": "viewer"}).json()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert anonymous.get("/api/auth/me", headers=headers).status_code == 200
    assert client.delete(f"/api/tokens/{body['id']}").status_code == 204
    assert anonymous.get("/api/auth/me", headers=headers).status_code == 401
    assert client.delete(f"/api/tokens/{body['id']}").status_code == 404
    assert actions(client, 2) == [("token:admin-automation", "token.delete", body["id"]),
                                  ("token:admin-automation", "token.create", body["id"])]


@pytest.mark.parametrize("body", [{"name": "", "role": "viewer"},
                                  {"name": " \t", "role": "viewer"},
                                  {"name": "x", "role": "viewer", "expires_days": 0}])
def test_bad_token_request_is_422(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/api/tokens", json=body).status_code == 422


def test_audit_entries_say_when_and_from_where(client: TestClient, anonymous: TestClient
                                               ) -> None:
    anonymous.post("/api/auth/login", json={"username": "viewer", "password": "guess"})
    entry = client.get("/api/audit", params={"size": 1}).json()["data"][0]
    assert set(entry) == {"at", "username", "action", "target", "source_ip", "detail"}
    assert entry["source_ip"] == "testclient" and entry["at"].endswith("Z")
    assert client.get("/api/audit", params={"size": 0}).status_code == 422
