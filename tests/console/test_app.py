"""The application shell: the page, its assets, the OpenAPI document, the air gap."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from console.app import WEB_DIR

ASSETS = ["index.html", "app.js", "style.css"]


def test_index_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Liaowang 瞭望" in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy


@pytest.mark.parametrize(("name", "media_type"), [
    ("app.js", "javascript"), ("style.css", "text/css"), ("index.html", "text/html")])
def test_assets_are_served_under_static(client: TestClient, name: str, media_type: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert media_type in response.headers["content-type"]


@pytest.mark.parametrize("name", ASSETS)
def test_assets_name_no_other_host(name: str) -> None:
    text = (WEB_DIR / name).read_text()
    assert not re.search(r"(https?:|wss?:)?//[\w.-]+\.\w", text), "the SOC network is air-gapped"
    assert "@import" not in text and "@font-face" not in text


def test_openapi_documents_the_events_resource(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/events", "/api/events/{event_id}", "/api/events/histogram",
            "/api/events/terms", "/api/health"} <= set(spec["paths"])
    responses = spec["paths"]["/api/events"]["get"]["responses"]
    schema = responses["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/EventsPublic"}
    assert {"400", "422", "503"} <= set(responses)
