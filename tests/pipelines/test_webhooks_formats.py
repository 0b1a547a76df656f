"""Payload shapes of every webhook format, as each receiver documents them, on the real alert of
an S7 PLC stop; signatures recomputed here independently; the configuration section."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from urllib.parse import parse_qs, unquote_plus, urlsplit

import orjson
import pytest

from liaowang.config import ConfigError, WebhookSettings, load_config
from pipelines.webhooks.base import Message, Outcome, RenderError, classify
from pipelines.webhooks.formats import FORMATS
from tests.pipelines.test_webhooks import s7_stop_alert

NOW = 1_700_000_000.5


def hook(fmt: str, **options: object) -> WebhookSettings:
    return WebhookSettings.model_validate({"name": "soc", "url": "https://hooks.example/x?k=1",
                                           "format": fmt, **options})


def single() -> Message:
    return Message((s7_stop_alert(),), queued_at=NOW)


def digest(count: int) -> Message:
    alerts = []
    for number in range(count):
        alert = copy.deepcopy(s7_stop_alert())
        alert["event"]["id"] = f"burst-{number}"
        alert["rule"]["name"] = f"S7comm PLC stop request {number} " + "x" * 80
        alerts.append(alert)
    return Message(tuple(alerts), queued_at=NOW)


def render(fmt: str, message: Message, **options: object) -> tuple[dict, dict, str]:
    request = FORMATS[fmt].render(message, hook(fmt, **options), NOW)
    return orjson.loads(request.body), dict(request.headers), request.url


def b64_hmac(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(),
                                     hashlib.sha256).digest()).decode()


def test_every_configured_format_has_a_module() -> None:
    assert set(FORMATS) == {"generic", "slack", "dingtalk", "wecom", "feishu", "template"}


def test_generic_is_the_ecs_alert_signed_over_time_and_body() -> None:
    request = FORMATS["generic"].render(single(), hook("generic", secret="k",
                                                       headers={"Authorization": "Bearer t"}),
                                        NOW)
    assert orjson.loads(request.body) == s7_stop_alert()
    assert request.url == "https://hooks.example/x?k=1"
    headers = request.headers
    assert headers["Idempotency-Key"] == f"{s7_stop_alert()['event']['id']}:soc"
    assert headers["Authorization"] == "Bearer t"
    expected = hmac.new(b"k", b"1700000000." + request.body, hashlib.sha256).hexdigest()
    assert headers["X-Liaowang-Signature"] == f"t=1700000000,v1={expected}"


def test_generic_digest_lists_every_alert_under_its_own_key() -> None:
    body, headers, _ = render("generic", digest(3))
    assert body["digest"]["count"] == 3
    assert [a["event"]["id"] for a in body["alerts"]] == ["burst-0", "burst-1", "burst-2"]
    assert headers["Idempotency-Key"] == f"{body['digest']['id']}:soc"
    assert "X-Liaowang-Signature" not in headers       # no secret, no signature


def test_dingtalk_is_a_markdown_message_on_a_signed_url() -> None:
    body, _, url = render("dingtalk", single(), secret="SECabc")
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == "[critical] S7comm PLC stop request"
    assert "134.249.62.199:49161 → 134.249.61.163:102" in body["markdown"]["text"]
    query = parse_qs(urlsplit(url).query)
    assert query["k"] == ["1"] and query["timestamp"] == ["1700000000500"]
    assert query["sign"] == [b64_hmac("SECabc", "1700000000500\nSECabc")]
    assert unquote_plus(url.split("sign=")[1]) == query["sign"][0]


def test_wecom_is_markdown_content_within_4096_bytes() -> None:
    body, _, url = render("wecom", single())
    assert url == "https://hooks.example/x?k=1"
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
    assert body["markdown"]["content"].startswith('## <font color="warning">[critical] ')
    assert "T0881, T0858" in body["markdown"]["content"]
    long, _, _ = render("wecom", digest(100))
    assert len(long["markdown"]["content"].encode()) <= 4096
    assert "100 Liaowang alerts (highest: critical)" in long["markdown"]["content"]
    assert long["markdown"]["content"].splitlines()[-1].startswith("> … and ")


def test_feishu_is_a_signed_interactive_card() -> None:
    body, _, _ = render("feishu", single(), secret="fs")
    assert body["timestamp"] == "1700000000"
    assert body["sign"] == b64_hmac("1700000000\nfs", "")
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"] == {"tag": "plain_text",
                                       "content": "[critical] S7comm PLC stop request"}
    assert card["header"]["template"] == "red"
    [element] = card["elements"]
    assert element["tag"] == "div" and element["text"]["tag"] == "lark_md"
    assert "c4f69ec5-e730-5378-8b1c-75ba789ae311" in element["text"]["content"]
    unsigned, _, _ = render("feishu", single())
    assert "sign" not in unsigned and "timestamp" not in unsigned


def test_slack_is_block_kit_within_its_limits() -> None:
    body, _, _ = render("slack", single())
    assert body["text"] == "[critical] S7comm PLC stop request"
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]
    header, section, _ = body["blocks"]
    assert header["text"]["type"] == "plain_text"
    assert 0 < len(section["fields"]) <= 10
    assert all(f["type"] == "mrkdwn" and len(f["text"]) <= 2000 for f in section["fields"])
    assert "*Rule*\nS7comm PLC stop request (c4f69ec5" in section["fields"][1]["text"]
    burst, _, _ = render("slack", digest(100))
    assert len(burst["blocks"][0]["text"]["text"]) <= 150
    lines = burst["blocks"][1]["text"]["text"].splitlines()
    assert len("\n".join(lines)) <= 3000
    listed, more = lines[:-1], lines[-1]
    assert 10 <= len(listed) <= 20 and all(line.startswith("• [critical] ") for line in listed)
    assert more == f"• … and {100 - len(listed)} more"


def test_template_renders_any_body_and_signs_it() -> None:
    template = ('{"title": {{ alert.rule.name | tojson }}, "n": {{ alerts | length }}, '
                '"ids": {{ alerts | map(attribute="event.id") | list | tojson }}, '
                '"digest": {{ digest | tojson }}, "to": "{{ webhook }}"}')
    request = FORMATS["template"].render(digest(2), hook("template", template=template,
                                                         secret="t"), NOW)
    assert orjson.loads(request.body) == {"title": "S7comm PLC stop request 0 " + "x" * 80,
                                          "n": 2, "ids": ["burst-0", "burst-1"],
                                          "digest": True, "to": "soc"}
    expected = hmac.new(b"t", b"1700000000." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Liaowang-Signature"].endswith(expected)
    assert request.headers["Content-Type"] == "application/json"


def test_a_template_failing_on_an_alert_cannot_be_rendered() -> None:
    with pytest.raises(RenderError, match="template: "):
        FORMATS["template"].render(single(), hook("template", template="{{ alerts[3].rule.x }}"),
                                   NOW)


def test_a_template_cannot_reach_python_internals() -> None:
    with pytest.raises(RenderError):
        FORMATS["template"].render(single(), hook(
            "template", template="{{ alert.__class__.__init__.__globals__ }}"), NOW)


@pytest.mark.parametrize(("fmt", "body", "outcome"), [
    ("dingtalk", b'{"errcode":0,"errmsg":"ok"}', Outcome.DELIVERED),
    ("dingtalk", b'{"errcode":130101,"errmsg":"send too fast"}', Outcome.RETRY),
    ("dingtalk", b'{"errcode":310000,"errmsg":"keywords not in content"}', Outcome.REFUSED),
    ("wecom", b'{"errcode":45009,"errmsg":"api freq out of limit"}', Outcome.RETRY),
    ("wecom", b"<html>proxy</html>", Outcome.REFUSED),
    ("feishu", b'{"code":0,"msg":"success","data":{}}', Outcome.DELIVERED),
    ("feishu", b'{"StatusCode":0,"StatusMessage":"success"}', Outcome.DELIVERED),
    ("feishu", b'{"code":11232,"msg":"frequency limited"}', Outcome.RETRY),
    ("slack", b"ok", Outcome.DELIVERED),
])
def test_robot_replies_are_judged_by_their_error_code(fmt, body, outcome) -> None:
    assert classify(200, {}, body, FORMATS[fmt].check_body).outcome is outcome


@pytest.mark.parametrize(("status", "outcome"), [
    (204, Outcome.DELIVERED), (500, Outcome.RETRY), (503, Outcome.RETRY),
    (429, Outcome.RETRY), (408, Outcome.RETRY), (400, Outcome.REFUSED),
    (404, Outcome.REFUSED), (301, Outcome.REFUSED)])
def test_http_statuses_are_delivered_retried_or_refused(status, outcome) -> None:
    assert classify(status, {}, b"", None).outcome is outcome


@pytest.mark.parametrize(("text", "line", "key", "reason"), [
    ("webhooks:\n  - name: soc\n    url: https://x/\n    secrt: k\n", 4, "webhooks.0.secrt",
     "unknown key"),
    ("webhooks:\n  - name: soc\n    url: ftp://x/\n", 3, "webhooks.0.url", "pattern"),
    ("webhooks:\n  - name: soc\n    url: https://x/\n    format: teams\n", 4,
     "webhooks.0.format", "'generic'"),
    ("webhooks:\n  - name: soc\n    url: https://x/\n    format: template\n", 2,
     "webhooks.0", "'template' is required"),
    ("webhooks:\n  - name: soc\n    url: https://x/\n    format: template\n"
     "    template: '{{ alert.rule.name '\n", 5, "webhooks.0.template", "template line 1"),
    ("webhooks:\n  - {name: a, url: 'https://x/'}\n  - {name: a, url: 'https://y/'}\n", 1,
     "webhooks", "unique: a"),
    ("webhooks:\n  - {name: a, url: 'https://x/', min_severity: 5}\n", 2,
     "webhooks.0.min_severity", "less than or equal to 4"),
    ("webhooks:\n  - {name: ../up, url: 'https://x/'}\n", 2, "webhooks.0.name", "pattern"),
])
def test_bad_webhook_sections_are_refused_with_line_and_key(tmp_path, text, line, key,
                                                            reason) -> None:
    path = tmp_path / "liaowang.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.key) == (line, key)
    assert reason in caught.value.reason


def test_a_webhook_section_is_read(tmp_path) -> None:
    path = tmp_path / "liaowang.yml"
    path.write_text("webhooks:\n  - name: soc\n    url: https://soar.example/hook\n"
                    "    secret: k\n    min_severity: 3\n    rules: [attack.t0881]\n"
                    "    datasets: [s7comm]\n    max_age_s: 600\n    rate_per_min: 5\n")
    [webhook] = load_config(path).webhooks
    assert (webhook.format, webhook.min_severity, webhook.rules, webhook.datasets) == (
        "generic", 3, ("attack.t0881",), ("s7comm",))
    assert webhook.secret is not None and webhook.secret.get_secret_value() == "k"
    assert (webhook.max_age_s, webhook.rate_per_min) == (600, 5)
