"""The shipped rule pack against crafted attacks, replayed by `liaowang replay` as a user would.

Each family's capture is written by scapy (tests/utils/attack_captures.py) into the test's
folder, replayed with a configuration that sets the site's lists, and the alerts that come out
are compared with the rules the attack must raise — and nothing else may fire.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from detection.sigma.loader import SHIPPED_RULES, load_pack
from liaowang.schema import validate
from tests.utils import attack_captures as attacks
from tests.utils.pcaps import PCAPS

LIAOWANG = str(Path(sys.executable).with_name("liaowang"))
REGISTRATION = PCAPS / "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng"
RULE_NAMES = {str(rule.id): rule.name for rule in [*load_pack([SHIPPED_RULES]).rules,
                                                   *load_pack([SHIPPED_RULES]).correlations]}


def replay(capture: Path, lists: dict[str, list[Any]] | None, folder: Path
           ) -> tuple[list[dict[str, Any]], str]:
    """The alerts of ``liaowang replay capture`` with ``lists`` as detection.lists, and stderr."""
    command = [LIAOWANG, "replay", str(capture), "--jsonl", "-"]
    if lists is not None:
        config = folder / "liaowang.yml"
        config.write_text(yaml.safe_dump({"detection": {"lists": lists}}))
        command += ["--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return [event for event in events if event["event"]["kind"] == "alert"], done.stderr


def fired(alerts: list[dict[str, Any]]) -> set[str]:
    return {RULE_NAMES.get(alert["rule"]["id"], alert["rule"]["id"]) for alert in alerts}


def test_ics_attacks_raise_every_expected_rule_and_no_other(tmp_path: Path) -> None:
    capture = attacks.write_ics_attacks(tmp_path / "ics.pcap")
    alerts, _ = replay(capture, attacks.ICS_LISTS, tmp_path)
    # the attacker's device identification requests also raise the pack's identification rule
    assert fired(alerts) == attacks.ICS_EXPECTED | {"modbus_device_identification"}
    assert [problem for alert in alerts for problem in validate(alert)] == []


def test_ics_attacks_from_an_engineering_host_raise_no_list_rule(tmp_path: Path) -> None:
    capture = attacks.write_ics_attacks(tmp_path / "ics.pcap")
    lists = dict(attacks.ICS_LISTS, engineering_hosts=[attacks.ATTACKER],
                 allowed_masters=[attacks.ATTACKER])
    alerts, _ = replay(capture, lists, tmp_path)
    listed = {"modbus_write_from_unlisted_host", "s7comm_write_var_from_unlisted_host",
              "dnp3_control_from_unlisted_master", "iec104_command_from_unlisted_station",
              "iec104_interrogation_from_unlisted_host", "ot_zone_inbound_connection"}
    assert not fired(alerts) & listed
    assert {"s7comm_plc_stop", "dnp3_restart", "syn_flood"} <= fired(alerts)


def test_rules_needing_unset_lists_are_not_loaded_and_say_so(tmp_path: Path) -> None:
    capture = attacks.write_ics_attacks(tmp_path / "ics.pcap")
    alerts, stderr = replay(capture, None, tmp_path)
    assert "rules not loaded: they need" in stderr and "detection.lists.engineering_hosts" in stderr
    assert "modbus_write_from_unlisted_host" not in fired(alerts)
    assert "cleartext_remote_access_into_ot" not in fired(alerts)
    assert {"s7comm_plc_stop", "port_scan", "cleartext_remote_access"} <= fired(alerts)


def test_core_attacks_raise_every_expected_rule_and_no_other(tmp_path: Path) -> None:
    capture = attacks.write_core_attacks(tmp_path / "core.pcap")
    alerts, _ = replay(capture, attacks.CORE_LISTS, tmp_path)
    assert fired(alerts) == attacks.CORE_EXPECTED
    assert [problem for alert in alerts for problem in validate(alert)] == []


def test_nas_downgrade_and_unknown_gnb(tmp_path: Path) -> None:
    capture, changed = attacks.write_nas_downgrade(REGISTRATION, tmp_path / "nas.pcap")
    assert changed > 0
    alerts, _ = replay(capture, {"known_gnbs": [1]}, tmp_path)
    assert {"nas5gs_null_integrity", "nas5gs_null_ciphering",
            "ngap_ng_setup_unknown_gnb"} <= fired(alerts)


def test_the_real_registration_keeps_integrity_and_its_gnb_is_known(tmp_path: Path) -> None:
    alerts, _ = replay(REGISTRATION, {"known_gnbs": [16384]}, tmp_path)
    assert not fired(alerts) & {"nas5gs_null_integrity", "ngap_ng_setup_unknown_gnb"}
    # open5gs selects 5G-EA0 by default: explained in the rule's false-positive notes
    assert "nas5gs_null_ciphering" in fired(alerts)
