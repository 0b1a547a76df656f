"""``/api/webhooks``: targets with their counts, deliveries, dead letters and their replay, on
the ledgers and queues of real deliveries to real receivers on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.auth.roles import Role
from liaowang.config import PipelineSettings, Settings, SpoolSettings, WebhookSettings
from pipelines.store.base import Event
from pipelines.webhooks.targets import open_deliveries
from tests.pipelines.webhook_receiver import Receiver


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    """``soc`` takes everything; ``chat`` refuses everything outright (HTTP 400)."""
    with Receiver() as soc, Receiver(refuse=1000, refuse_status=400) as chat:
        yield {"soc": soc, "chat": chat}


def with_webhooks(settings: Settings, folder: Path, urls: dict[str, str]) -> Settings:
    webhooks = tuple(WebhookSettings(name=name, url=url, retry_first_s=0.1)
                     for name, url in urls.items())
    spool = PipelineSettings(spool=SpoolSettings(path=str(folder)))
    return settings.model_copy(update={"webhooks": webhooks, "pipelines": spool})


def deliver(settings: Settings, alerts: list[Event]) -> None:
    """What a sensor process does: deliver ``alerts`` to every target, then stop."""
    for delivery in open_deliveries(settings):
        delivery.enqueue(alerts)
        assert delivery.flush(10)
        delivery.close()


@pytest.fixture
def app(app: FastAPI, tmp_path: Path, receivers: dict[str, Receiver],
        alerts: dict[str, Event]) -> FastAPI:
    """The console over targets that were delivered two alerts: ``soc`` took them, ``chat``
    refused them (one message each, as the rate limit allows)."""
    urls = {name: receiver.url for name, receiver in receivers.items()}
    app.state.settings = with_webhooks(app.state.settings, tmp_path / "spool", urls)
    deliver(app.state.settings, [alerts["write"], alerts["exception"]])
    return app


def test_targets_are_listed_with_their_counts(client: TestClient) -> None:
    targets = {t["name"]: t for t in client.get("/api/webhooks").json()["data"]}
    assert (targets["soc"]["delivered"], targets["soc"]["dead"], targets["soc"]["pending"]) == \
        (2, 0, 0)
    assert (targets["chat"]["delivered"], targets["chat"]["dead"]) == (0, 2)
    assert targets["soc"]["format"] == "generic"


def test_deliveries_are_listed_newest_first(client: TestClient,
                                            alerts: dict[str, Event]) -> None:
    rows = client.get("/api/webhooks/deliveries").json()["data"]
    assert sorted((row["webhook"], row["status"]) for row in rows) == \
        [("chat", "dead"), ("chat", "dead"), ("soc", "delivered"), ("soc", "delivered")]
    assert [row["at"] for row in rows] == sorted((row["at"] for row in rows), reverse=True)
    soc = client.get("/api/webhooks/deliveries", params={"webhook": "soc"}).json()["data"]
    assert {row["key"] for row in soc} == {alerts["write"]["event"]["id"],
                                           alerts["exception"]["event"]["id"]}
    assert client.get("/api/webhooks/deliveries", params={"webhook": "nope"}).status_code == 404


def test_a_replayed_dead_letter_is_delivered_by_the_next_process(
        client: TestClient, app: FastAPI, alerts: dict[str, Event], tmp_path: Path) -> None:
    dead = client.get("/api/webhooks/dead-letters").json()["data"]
    assert {row["detail"][:12] for row in dead} == {"refused: HTT"}
    key = alerts["write"]["event"]["id"]
    replayed = client.post(f"/api/webhooks/dead-letters/{key}/replay")
    assert replayed.status_code == 200 and replayed.json() == {"replayed": 1}
    targets = {t["name"]: t for t in client.get("/api/webhooks").json()["data"]}
    assert (targets["chat"]["dead"], targets["chat"]["pending"]) == (1, 1)
    assert [row["key"] for row in client.get("/api/webhooks/dead-letters").json()["data"]] == \
        [alerts["exception"]["event"]["id"]]
    entries = client.get("/api/audit").json()["data"]
    assert any(e["action"] == "webhook.replay" and e["target"] == key for e in entries)
    with Receiver() as mended:      # the chat robot works again: the next run delivers it
        settings = with_webhooks(app.state.settings, tmp_path / "spool", {"chat": mended.url})
        deliver(settings, [])
        for delivery in open_deliveries(settings):
            assert delivery.flush(10)
            delivery.close()
    assert [r.json()["event"]["id"] for r in mended.accepted] == [key]
    assert client.post(f"/api/webhooks/dead-letters/{key}/replay").status_code == 404


def test_only_admins_see_webhooks(client_as: Callable[[Role], TestClient]) -> None:
    assert client_as(Role.analyst).get("/api/webhooks").status_code == 403
    assert client_as(Role.admin).get("/api/webhooks").status_code == 200


def test_beside_a_running_delivery_a_replayed_letter_goes_out_at_once(
        client: TestClient, app: FastAPI, alerts: dict[str, Event], tmp_path: Path) -> None:
    key = alerts["exception"]["event"]["id"]
    with Receiver() as mended:      # liaowang up: the console and the sensor's deliveries
        settings = with_webhooks(app.state.settings, tmp_path / "spool", {"chat": mended.url})
        [delivery] = open_deliveries(settings)
        try:
            replayed = client.post(f"/api/webhooks/dead-letters/{key}/replay",
                                   params={"webhook": "chat"})
            assert replayed.json() == {"replayed": 1}
            assert delivery.flush(10)
        finally:
            delivery.close()
    assert [r.json()["event"]["id"] for r in mended.accepted] == [key]
