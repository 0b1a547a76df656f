"""``/api/health``."""

from __future__ import annotations

from fastapi.testclient import TestClient

from liaowang import __version__


def test_health(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
