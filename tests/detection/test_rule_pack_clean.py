"""The full shipped pack over clean public captures: only rules whose notes explain it may fire.

Each capture below is replayed (its first frames, as `python -m bench.rule_alerts` does for all
of ../shared/pcaps) through the sensor and the whole pack. Every rule that fires must be listed
for that capture with the words of its own ``falsepositives`` notes that explain why; a rule
that fires unexplained, or an explanation its notes do not give, fails the test.
"""

from __future__ import annotations

import pytest

from bench.rule_alerts import capture_alerts
from detection.sigma.loader import SHIPPED_RULES, load_pack
from tests.utils.pcaps import PCAPS

MAX_FRAMES = 5000
PACK = load_pack([SHIPPED_RULES])
RULES = {str(rule.id): rule for rule in [*PACK.rules, *PACK.correlations]}

# capture -> {rule name: words of its falsepositives notes that explain the alert there}
EXPLAINED: dict[str, dict[str, str]] = {
    "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng": {
        "nas5gs_suci_null_scheme": "test networks",
        "nas5gs_null_ciphering": "open5gs",
    },
    "BerezinaElizaveta__Diploma/n4.pcap": {
        "pfcp_session_establishment_without_association": "capture that starts after",
        "pfcp_session_deletion_without_association": "capture that starts after",
    },
    "ITI__ICS-Security-Tools/pcaps__s7__s7comm_reading_plc_status.pcap": {
        "s7comm_szl_read_burst": "engineering software",
        "s7comm_szl_read_sweep": "engineering software",
    },
    "cisagov__icsnpp-bacnet/testing__traces__bacnet_services.pcap": {
        "bacnet_reinitialize_device": "building-management software",
        "bacnet_dcc_disable": "commissioning tools",
        "bacnet_priority_write": "test traces",
    },
    "ITI__ICS-Security-Tools/pcaps__openics__EIP-FirmwareChange.pcap": {
        "enip_cip_firmware_update": "eip-firmwarechange",
    },
    "cisagov__icsnpp-opcua-binary/pcaps__open62541_client-server_mainloop-4-InnerDiagInfo.pcap": {
        "opcua_write": "writing set points in normal operation",
        "opcua_security_policy_none": "policy none",
        "opcua_method_call": "applications that drive the process",
    },
    "antoine-lemay__Modbus_dataset/characterization_modbus_6RTU_with_operate.pcap": {
        "modbus_exception_burst": "registers a device does not have",
        "modbus_write_multiple": "writing set points",
    },
    "zeek__zeek/testing__btest__Traces__dnp3__dnp3.pcap": {
        "dnp3_disable_unsolicited": "at start-up",
        "dnp3_restart": "commissioning",
        "dnp3_stop_application": "maintenance",
        "dnp3_file_operation": "utility's own tools",
        "weird_ics_protocol_violation": "test traces",   # dnp3_bad_start: junk Zeek put there
    },
    "ITI__ICS-Security-Tools/pcaps__IEC60870-5-104__090813_diverse.pcap": {
        "iec104_control_command": "operators switching",
    },
}


@pytest.mark.parametrize("capture", sorted(EXPLAINED), ids=lambda c: c.rsplit("/", 1)[-1])
def test_only_explained_rules_fire_on_a_clean_capture(capture: str) -> None:
    alerts = capture_alerts(PCAPS / capture, MAX_FRAMES, PACK)
    fired = {RULES[alert["rule"]["id"]].name for alert in alerts}
    unexplained = fired - set(EXPLAINED[capture])
    assert not unexplained, f"rules firing without a false-positive note: {sorted(unexplained)}"


@pytest.mark.parametrize(("rule", "words"), sorted({
    (rule, words) for explained in EXPLAINED.values() for rule, words in explained.items()}))
def test_the_notes_give_the_explanation(rule: str, words: str) -> None:
    (found,) = [r for r in RULES.values() if r.name == rule]
    notes = " ".join(found.falsepositives).lower()
    assert words in notes, f"{rule}: '{words}' is not in its notes: {found.falsepositives}"
