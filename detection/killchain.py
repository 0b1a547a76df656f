"""Kill-chain stages of alerts: discovery → command → impact.

An incident that moves from one stage to a later one is an attack in progress, not noise, so the
correlator escalates it. The stages fold the tactics of MITRE ATT&CK for ICS (and those of
ATT&CK and MITRE FiGHT, which share the Enterprise tactics) into three steps:

- ``discovery``: learning the target — Discovery, Collection, Reconnaissance;
- ``command``: getting in and giving orders — Initial Access, Execution, Persistence, Privilege
  Escalation, Evasion, Credential Access, Lateral Movement, Command and Control, and Impair
  Process Control (writes and unauthorised commands to the process);
- ``impact``: hurting it — Inhibit Response Function, Impact, Exfiltration.

An alert's stage is the latest one named by its tactics (``threat.tactic.name``); without
tactics, by its technique ids (``threat.technique.id``) through :data:`TECHNIQUE_STAGE`.

>>> stage_of({"threat": {"tactic": {"name": ["Discovery"]}}})
'discovery'
>>> stage_of({"threat": {"technique": {"id": ["T0836", "T0814"]}}})
'impact'
>>> stage_of({"rule": {"name": "no threat fields"}}) is None
True
"""

from __future__ import annotations

from typing import Any

STAGES = ("discovery", "command", "impact")

TACTIC_STAGE: dict[str, str] = {
    "discovery": "discovery", "collection": "discovery", "reconnaissance": "discovery",
    "initial access": "command", "execution": "command", "persistence": "command",
    "privilege escalation": "command", "evasion": "command", "defense evasion": "command",
    "credential access": "command", "lateral movement": "command",
    "command and control": "command", "impair process control": "command",
    "inhibit response function": "impact", "impact": "impact", "exfiltration": "impact",
}

_ICS_TECHNIQUES = {
    "discovery": "T0840 T0842 T0846 T0887 T0888 T0802 T0811 T0845 T0801 T0861 T0868 T0877 T0852 "
                 "T0893 T0830",
    "command": "T0817 T0819 T0822 T0847 T0848 T0865 T0862 T0864 T0860 T0858 T0807 T0871 T0823 "
               "T0874 T0821 T0834 T0853 T0863 T0889 T0839 T0873 T0890 T0849 T0872 T0812 T0866 "
               "T0891 T0867 T0843 T0886 T0859 T0885 T0884 T0869 T0806 T0836 T0856 T0855",
    "impact": "T0800 T0878 T0803 T0804 T0805 T0892 T0809 T0814 T0816 T0835 T0838 T0851 T0881 "
              "T0857 T0879 T0813 T0815 T0826 T0827 T0828 T0837 T0880 T0829 T0831 T0832 T0882",
}
# FiGHT techniques of the shipped 5G rules, staged by what the rules see them do: probing
# subscribers, tunnels and services (discovery); rogue nodes, weakened security, credential and
# exploitation attempts (command); denial of service (impact).
_FIGHT_TECHNIQUES = {
    "discovery": "FGT1040 FGT1046 FGT5010 FGT5016 FGT5019 FGT5020 FGT5031",
    "command": "FGT1110 FGT1190 FGT1583 FGT1599 FGT1600 FGT5007 FGT5009 FGT5012 FGT5026",
    "impact": "FGT1498 FGT1499",
}

TECHNIQUE_STAGE: dict[str, str] = {
    technique: stage for table in (_ICS_TECHNIQUES, _FIGHT_TECHNIQUES)
    for stage, techniques in table.items() for technique in techniques.split()
}


def stage_of(alert: dict[str, Any]) -> str | None:
    """The kill-chain stage of an alert, or None when its threat fields name none."""
    threat = alert.get("threat")
    if not isinstance(threat, dict):
        return None
    stages = _stages(_names(threat, "tactic"), TACTIC_STAGE, str.lower)
    if not stages:
        stages = _stages(_names(threat, "technique", "id"), TECHNIQUE_STAGE, _technique_key)
    return max(stages, key=STAGES.index) if stages else None


def _names(threat: dict[str, Any], part: str, key: str = "name") -> list[str]:
    node = threat.get(part)
    values = node.get(key) if isinstance(node, dict) else None
    if isinstance(values, str):
        values = [values]
    return [value for value in values or () if isinstance(value, str)]


def _stages(names: list[str], table: dict[str, str], key: Any) -> list[str]:
    return [table[key(name)] for name in names if key(name) in table]


def _technique_key(technique: str) -> str:
    """``T0855.001`` and ``t0855`` both look up ``T0855``."""
    return technique.upper().split(".")[0]
