"""``/api/stream/alerts``: alerts written to the store after the stream opened arrive as SSE."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from console.api.routes import stream
from console.auth.accounts import Accounts
from console.auth.roles import Role
from pipelines.store.base import Event, Store
from tests.console.api.conftest import make_alert


def write_once_streaming(store: Store, alerts: list[Event],
                         monkeypatch: pytest.MonkeyPatch) -> threading.Thread:
    """Write ``alerts`` as soon as the stream has taken note of what was stored before it (a
    fixed delay raced the stream's start on a busy machine, and the test then waited forever
    for alerts the stream took as old)."""
    noted = threading.Event()
    take_note = stream.NewAlerts.start

    def start(self: stream.NewAlerts) -> None:
        take_note(self)
        noted.set()

    monkeypatch.setattr(stream.NewAlerts, "start", start)
    thread = threading.Thread(target=lambda: noted.wait(60) and store.write(alerts))
    thread.start()
    return thread


def test_new_alerts_arrive_once_each(client_as: Callable[[Role], TestClient], store: Store,
                                     alerts: dict[str, Event], events: dict[str, Event],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = [make_alert(f"fresh-{n}", timedelta(seconds=n), 4, [events["write_request"]])
             for n in (2, 1)]
    received: list[Event] = []
    writer = write_once_streaming(store, [*fresh, events["flow"]], monkeypatch)
    with client_as(Role.viewer).stream("GET", "/api/stream/alerts") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                received.append(json.loads(line.removeprefix("data: ")))
            if len(received) == 2:
                break
    writer.join()
    # Oldest first; the alerts stored before the stream opened are not sent again.
    assert received == fresh


def test_stream_ends_when_the_token_is_revoked(client_as: Callable[[Role], TestClient],
                                               accounts: Accounts,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    viewer = next(t for t in accounts.tokens.list() if t.name == "viewer-automation")
    checks: list[bool] = []
    is_live = accounts.tokens.is_live

    def revoked_after_the_first_poll(token_id: str) -> bool:
        """The stream asks before each poll: the token goes once it has polled (a fixed
        delay raced the request's own authentication on a busy machine)."""
        if len(checks) == 1:
            accounts.tokens.delete(viewer.id)
        checks.append(is_live(token_id))
        return checks[-1]

    monkeypatch.setattr(accounts.tokens, "is_live", revoked_after_the_first_poll)
    started = time.monotonic()
    with client_as(Role.viewer).stream("GET", "/api/stream/alerts") as response:
        assert response.status_code == 200
        assert list(response.iter_lines()) == []
    assert checks == [True, False]
    assert time.monotonic() - started < 5
