"""Response actions: the builders on real events, the firewall artefacts checked by the real
tools, the automation call to a real receiver, and policies acting on a replayed attack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from detection.sigma import SigmaDetector
from liaowang.config import ConfigError, Settings, load_config
from liaowang.events import get_field
from pipelines.response import ActionError, ActionLog, perform
from pipelines.response.base import Options
from pipelines.response.block import build as build_block
from pipelines.response.isolate import build as build_isolate
from pipelines.response.policies import PolicySink
from tests.pipelines.webhook_receiver import Receiver
from tests.utils.pcaps import PCAPS, captures_with, run_sensor

S7_STOP = PCAPS / "ITI__ICS-Security-Tools/pcaps__s7__step7_s300_stop.pcapng"
SECRET = "automation-secret"


def alert_on(event: dict, **fields: object) -> dict:
    return event | {"event": event["event"] | {"kind": "alert", "id": "alert-1"},
                    "rule": {"id": "r1", "name": "Rule one"}, **fields}


@pytest.fixture(scope="module")
def pfcp_events() -> list[dict]:
    [capture] = [path for path in captures_with("pfcp") if path.name == "PFCP--UPF-to-SMF.pcap"]
    return [event for event in run_sensor(capture) if event["event"]["dataset"] == "pfcp"]


@pytest.fixture(scope="module")
def s7_events() -> list[dict]:
    events = run_sensor(S7_STOP)
    return events + SigmaDetector.load().process(events)


def runs(command: list[str], text: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("unshare"):   # a network namespace of its own: nothing reaches the host
        command = ["unshare", "-rn", *command]
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("address", ["198.51.100.7", "2001:db8::7"])
def test_nft_accepts_the_block_script(address: str) -> None:
    plan = build_block({"source": {"ip": address}, "event": {"id": "a1"}}, [], Options())
    checked = runs(["nft", "-c", "-f", "-"], plan.artefacts["nftables"])
    assert checked.returncode == 0, checked.stderr
    assert plan.artefacts["nftables"].count(address) == 2


@pytest.mark.parametrize(("address", "restore"), [("198.51.100.7", "iptables-restore"),
                                                  ("2001:db8::7", "ip6tables-restore")])
def test_iptables_accepts_the_block_commands(address: str, restore: str) -> None:
    plan = build_block({"source": {"ip": address}, "event": {"id": "a1"}}, [], Options())
    lines = [line.split(" ", 1)[1] for line in plan.artefacts["iptables"].splitlines()]
    checked = runs([restore, "--test"], "\n".join(["*filter", *lines, "COMMIT", ""]))
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("address", [None, "127.0.0.1", "0.0.0.0", "ff02::1", "not-an-ip"])
def test_block_refuses_what_is_not_one_host(address: str | None) -> None:
    alert = {"event": {"id": "a1"}, "source": {"ip": address} if address else {}}
    with pytest.raises(ActionError, match=r"source\.ip"):
        build_block(alert, [], Options())


def test_isolate_names_the_peer_and_every_session_seen_on_its_flow(pfcp_events) -> None:
    alert = alert_on(pfcp_events[-1])
    flow = alert["network"]["community_id"]
    related = [event for event in pfcp_events if event["network"]["community_id"] == flow]
    payload = build_isolate(alert, related, Options()).payload
    seids = {get_field(event, "pfcp.seid") for event in related} - {None}
    assert seids and set(payload["sessions"]["pfcp_seids"]) == seids
    assert payload["peer"]["ip"] == alert["source"]["ip"]
    assert payload["peer"]["protocol"] == "pfcp"
    node_ids = {get_field(event, "pfcp.node_id") for event in related} - {None}
    assert set(payload["peer"]["node_id"]) == node_ids


def test_isolate_refuses_an_industrial_alert(s7_events) -> None:
    alert = next(event for event in s7_events if event["event"]["kind"] == "alert")
    with pytest.raises(ActionError, match="5G-core"):
        build_isolate(alert, [], Options())


def test_an_enforced_action_reaches_the_automation_signed(tmp_path, s7_events) -> None:
    alert = next(event for event in s7_events if event["event"]["kind"] == "alert")
    log = ActionLog(tmp_path / "actions.db")
    with Receiver(secret=SECRET, refuse=1) as receiver:
        settings = Settings.model_validate(
            {"response": {"automation": {"url": receiver.url, "secret": SECRET}}}).response
        failed, sent = (perform("block", alert, [], settings=settings, log=log, reason="stop",
                                dry_run=False, actor="analyst", origin="127.0.0.1")
                        for _ in range(2))
    assert (failed["status"], failed["detail"]) == ("failed", "HTTP 503")
    assert (sent["status"], sent["detail"]) == ("sent", "HTTP 200")
    [accepted] = receiver.accepted
    assert accepted.signature_ok
    assert accepted.headers["idempotency-key"] == sent["id"]
    assert accepted.json()["payload"]["address"] == alert["source"]["ip"]
    assert [record["id"] for record in log.list()] == [sent["id"], failed["id"]]
    log.close()


def test_a_dry_run_sends_nothing(tmp_path, s7_events) -> None:
    alert = next(event for event in s7_events if event["event"]["kind"] == "alert")
    with Receiver() as receiver:
        settings = Settings.model_validate(
            {"response": {"automation": {"url": receiver.url}}}).response
        log = ActionLog(tmp_path / "actions.db")
        record = perform("quarantine", alert, [], settings=settings, log=log, reason="check",
                         dry_run=True, actor="analyst", origin="127.0.0.1")
        log.close()
    assert record["status"] == "dry_run" and receiver.received == []
    assert record["payload"]["to_zone"] == "quarantine"


def test_a_policy_acts_once_on_each_alert_of_its_rule(tmp_path, s7_events) -> None:
    settings = Settings.model_validate({"response": {
        "actions_db": str(tmp_path / "actions.db"),
        "policies": [{"rules": ["S7comm PLC stop request"], "action": "block"},
                     {"rules": ["no-such-rule"], "action": "quarantine"}]}})
    sink = PolicySink.from_settings(settings)
    assert sink is not None
    sink.write(s7_events)
    sink.write(s7_events)           # the same alerts again: no second action
    sink.close()
    log = ActionLog(tmp_path / "actions.db")
    [record] = log.list()
    log.close()
    [alert] = [event for event in s7_events if event["event"]["kind"] == "alert"]
    assert (record["kind"], record["status"], record["actor"]) == ("block", "dry_run", "policy")
    assert record["alert_id"] == alert["event"]["id"]
    assert record["target"]["ip"] == alert["source"]["ip"]
    assert "nftables" in record["artefacts"]


def test_an_enforce_policy_without_automation_is_refused_naming_the_key(tmp_path) -> None:
    config = tmp_path / "liaowang.yml"
    config.write_text("response:\n  policies:\n    - rules: [r1]\n      action: block\n"
                      "      mode: enforce\n")
    with pytest.raises(ConfigError, match=r"response: .*needs response\.automation"):
        load_config(config)
    config.write_text("response:\n  policies:\n    - rules: [r1]\n      action: reboot\n")
    with pytest.raises(ConfigError, match=r":4: response.policies.0.action: Input should be"):
        load_config(config)


def test_no_policies_no_sink() -> None:
    assert PolicySink.from_settings(Settings()) is None
    assert Path(Settings().response.actions_db).name == "actions.db"
