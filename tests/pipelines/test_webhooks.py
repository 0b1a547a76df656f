"""Webhook delivery against a real HTTP receiver on loopback: refused first attempts, a
receiver not listening yet, Retry-After, dead letters after the maximum age and their replay,
digests under the rate limit, and no alert sent twice to a target."""

from __future__ import annotations

import copy
import time
from functools import cache
from pathlib import Path

import orjson
import pytest

from detection.base import detect
from detection.sigma.detector import SigmaDetector
from liaowang.config import Settings
from pipelines.sinks.webhooks import WebhookSink
from pipelines.webhooks.delivery import WebhookDelivery
from pipelines.webhooks.targets import (
    dead_letters,
    deliveries,
    open_deliveries,
    replay_dead_letters,
)
from tests.pipelines.webhook_receiver import Receiver
from tests.utils.loopback import free_port
from tests.utils.pcaps import PCAPS, run_sensor

S7_STOP = PCAPS / "ITI__ICS-Security-Tools/pcaps__s7__step7_s300_stop.pcapng"
SECRET = "s3cret-for-tests"


@cache
def s7_stop_alert() -> dict:
    """The alert Liaowang raises on a real capture of an S7 PLC being stopped."""
    alerts = [event for event in detect([SigmaDetector.load()], run_sensor(S7_STOP))
              if event["event"]["kind"] == "alert"]
    assert [alert["rule"]["name"] for alert in alerts] == ["S7comm PLC stop request"]
    return alerts[0]


def alerts(count: int, start: int = 0) -> list[dict]:
    """``count`` distinct alerts: the real one under other ids."""
    made = []
    for number in range(start, start + count):
        alert = copy.deepcopy(s7_stop_alert())
        alert["event"]["id"] = f"{alert['event']['id']}-{number}"
        made.append(alert)
    return made


def settings_for(tmp_path: Path, url: str, **webhook: object) -> Settings:
    options = {"name": "soc", "url": url, "secret": SECRET, "retry_first_s": 0.05,
               "retry_max_s": 0.2, **webhook}
    return Settings.model_validate({"pipelines": {"spool": {"path": str(tmp_path / "spool")}},
                                    "webhooks": [options]})


def delivery_to(tmp_path: Path, url: str, **webhook: object) -> WebhookDelivery:
    [delivery] = open_deliveries(settings_for(tmp_path, url, **webhook))
    return delivery


def keys_of(batch: list[dict], name: str = "soc") -> list[str]:
    return [f"{alert['event']['id']}:{name}" for alert in batch]


def test_refused_first_attempts_then_each_alert_arrives_once_signed(tmp_path) -> None:
    batch = alerts(3)
    with Receiver(secret=SECRET, refuse=2) as receiver:
        delivery = delivery_to(tmp_path, receiver.url)
        try:
            delivery.enqueue(batch)
            assert delivery.flush(timeout=20)
        finally:
            delivery.close()
    assert [r.status for r in receiver.received] == [503, 503, 200, 200, 200]
    assert receiver.keys() == keys_of(batch)
    assert all(r.signature_ok for r in receiver.received)
    assert [r.json() for r in receiver.accepted] == batch
    assert (delivery.stats.alerts, delivery.stats.attempts, delivery.pending) == (3, 5, 0)


def test_a_receiver_not_listening_yet_gets_the_alerts_once_it_is(tmp_path) -> None:
    port = free_port()
    receiver = Receiver(secret=SECRET, port=port)
    delivery = delivery_to(tmp_path, receiver.url)
    try:
        delivery.enqueue(alerts(2))
        assert not delivery.flush(timeout=0.5)
        assert "ConnectError" in (delivery.last_error or "")
        assert delivery.pending == 2 and delivery.stats.attempts >= 2
        receiver.start()
        assert delivery.flush(timeout=20)
    finally:
        delivery.close()
        receiver.stop()
    assert receiver.keys() == keys_of(alerts(2))


def test_retry_after_is_honoured(tmp_path) -> None:
    with Receiver(refuse=1, refuse_status=429, retry_after="1") as receiver:
        delivery = delivery_to(tmp_path, receiver.url, secret=None)
        try:
            delivery.enqueue(alerts(1))
            assert delivery.flush(timeout=20)
        finally:
            delivery.close()
    first, second = receiver.received
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.95     # not the 0.05 s of its own back-off
    assert "x-liaowang-signature" not in second.headers


def test_alerts_are_dead_lettered_after_the_maximum_age_and_can_be_replayed(tmp_path) -> None:
    with Receiver(secret=SECRET, refuse=1000) as receiver:
        settings = settings_for(tmp_path, receiver.url, max_age_s=1.0, retry_first_s=0.2,
                                retry_max_s=0.2)
        [delivery] = open_deliveries(settings)
        started = time.monotonic()
        try:
            delivery.enqueue(alerts(1))
            assert delivery.flush(timeout=20)
            waited = time.monotonic() - started
            assert delivery.stats.dead == 1 and delivery.pending == 0
            [letter] = dead_letters(settings, "soc")
            receiver.refuse = 0
            assert replay_dead_letters(settings, "soc", delivery=delivery) == 1
            assert delivery.flush(timeout=20)
        finally:
            delivery.close()
    assert 0.8 <= waited < 5
    assert 4 <= len(receiver.received) - 1 <= 6     # tried every 0.2 s for about a second
    assert letter.alert_ids == [alerts(1)[0]["event"]["id"]]
    assert letter.detail.startswith("gave up at 1 s of age: HTTP 503")
    assert receiver.keys() == keys_of(alerts(1))
    assert dead_letters(settings, "soc") == []
    assert [(m.status, m.key) for m in deliveries(settings, "soc")] == [
        ("delivered", letter.key)]


def test_dead_letters_replayed_by_another_process_go_out_with_the_next_delivery(
        tmp_path) -> None:
    with Receiver(refuse=1, refuse_status=400) as receiver:
        settings = settings_for(tmp_path, receiver.url, secret=None)
        [delivery] = open_deliveries(settings)
        delivery.enqueue(alerts(1))
        assert delivery.flush(timeout=20)
        delivery.close()
        [letter] = dead_letters(settings, "soc")
        assert letter.detail == "refused: HTTP 400: not now" and letter.attempts == 1
        assert replay_dead_letters(settings, "soc") == 1
        [delivery] = open_deliveries(settings)
        try:
            assert delivery.flush(timeout=20)
        finally:
            delivery.close()
    assert [r.status for r in receiver.received] == [400, 200]
    assert receiver.keys() == keys_of(alerts(1))


def test_a_burst_over_the_rate_limit_becomes_one_digest(tmp_path) -> None:
    first, burst = alerts(2), alerts(6, start=2)
    with Receiver(secret=SECRET) as receiver:
        delivery = delivery_to(tmp_path, receiver.url, rate_per_min=3)
        try:
            delivery.enqueue(first)
            assert delivery.flush(timeout=20)
            delivery.enqueue(burst)
            assert delivery.flush(timeout=20)
        finally:
            delivery.close()
    assert len(receiver.accepted) == 3 and all(r.signature_ok for r in receiver.accepted)
    assert receiver.keys()[:2] == keys_of(first)
    digest = receiver.accepted[2]
    body = digest.json()
    assert body["digest"]["count"] == 6
    assert [a["event"]["id"] for a in body["alerts"]] == [a["event"]["id"] for a in burst]
    assert digest.headers["idempotency-key"] == f"{body['digest']['id']}:soc"
    assert body["digest"]["id"].startswith("digest-")
    assert (delivery.stats.alerts, delivery.stats.messages, delivery.stats.digests) == (8, 3, 1)


def test_alerts_queued_while_waiting_for_the_rate_limit_join_one_digest(tmp_path) -> None:
    with Receiver() as receiver:
        delivery = delivery_to(tmp_path, receiver.url, secret=None, rate_per_min=20)
        try:
            delivery.enqueue(alerts(20))         # the whole burst allowance, one by one
            assert delivery.flush(timeout=30)
            for alert in alerts(4, start=20):    # 3 s until the next message may go
                delivery.enqueue([alert])
            assert delivery.flush(timeout=30)
        finally:
            delivery.close()
    assert len(receiver.accepted) == 21
    last = receiver.accepted[-1]
    assert last.json()["digest"]["count"] == 4
    assert last.at - receiver.accepted[-2].at >= 2


def test_alerts_waiting_for_the_rate_limit_at_close_stay_queued_for_the_next_start(
        tmp_path) -> None:
    first, waiting = alerts(2)
    with Receiver() as receiver:
        delivery = delivery_to(tmp_path, receiver.url, secret=None, rate_per_min=1)
        try:
            delivery.enqueue([first])
            assert delivery.flush(timeout=20)
            delivery.enqueue([waiting])          # a minute until the next message may go
            assert not delivery.flush(timeout=0.5)
        finally:
            delivery.close()
        assert delivery.pending == 1
        delivery = delivery_to(tmp_path, receiver.url, secret=None)
        try:
            assert delivery.flush(timeout=20)
        finally:
            delivery.close()
    assert receiver.keys() == keys_of([first, waiting])


def test_an_alert_is_never_sent_again_after_a_2xx(tmp_path) -> None:
    batch = alerts(2)
    with Receiver() as receiver:
        for _ in range(2):     # the same alerts again, in a later run, and twice in one batch
            delivery = delivery_to(tmp_path, receiver.url, secret=None)
            try:
                delivery.enqueue(batch + batch)
                assert delivery.flush(timeout=20)
            finally:
                delivery.close()
    assert receiver.keys() == keys_of(batch)
    assert delivery.stats.repeats == 4 and delivery.stats.attempts == 0


def test_the_sink_sends_only_the_alerts_each_target_takes(tmp_path) -> None:
    low = alerts(1, start=10)[0]
    low["event"]["severity"] = 2
    events = [{"event": {"id": "e1", "kind": "event", "dataset": "s7comm"}}, low,
              *alerts(1)]
    with Receiver() as everything, Receiver() as critical:
        settings = Settings.model_validate({
            "pipelines": {"spool": {"path": str(tmp_path / "spool")}},
            "webhooks": [{"name": "all", "url": everything.url},
                         {"name": "critical", "url": critical.url, "min_severity": 4,
                          "rules": ["attack.t0881"], "datasets": ["s7comm"]}]})
        sink = WebhookSink.from_settings(settings)
        assert sink is not None
        try:
            sink.write(events)
            assert sink.flush(timeout=20)
        finally:
            sink.close()
    assert everything.keys() == keys_of([low, *alerts(1)], "all")
    assert critical.keys() == keys_of(alerts(1), "critical")


@pytest.mark.parametrize(("fmt", "reply"), [
    ("dingtalk", {"errcode": 0, "errmsg": "ok"}),
    ("wecom", {"errcode": 0, "errmsg": "ok"}),
    ("feishu", {"code": 0, "msg": "success"}),
])
def test_chat_robots_replying_an_error_code_are_dead_letters(tmp_path, fmt, reply) -> None:
    refused = {"dingtalk": {"errcode": 310000, "errmsg": "sign not match"},
               "wecom": {"errcode": 93000, "errmsg": "invalid webhook url"},
               "feishu": {"code": 19021, "msg": "sign match fail or timestamp is not within "
                                                "one hour from current time"}}[fmt]
    with Receiver(reply=orjson.dumps(refused)) as bad, \
            Receiver(reply=orjson.dumps(reply)) as good:
        for receiver in (bad, good):
            delivery = delivery_to(tmp_path / str(receiver.port), receiver.url, format=fmt)
            try:
                delivery.enqueue(alerts(1))
                assert delivery.flush(timeout=20)
            finally:
                delivery.close()
            assert len(receiver.received) == 1
    assert (delivery.stats.alerts, delivery.stats.dead) == (1, 0)
    [letter] = dead_letters(settings_for(tmp_path / str(bad.port), bad.url), "soc")
    assert letter.detail.startswith("refused: robot error ")
    assert str(next(iter(refused.values()))) in letter.detail
