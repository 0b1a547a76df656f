"""NGAP (3GPP TS 38.413), the N2 interface between gNBs and the AMF, over SCTP (PPID 60).

SCTP hands over each user message whole, so one message is one PDU. It is ASN.1 APER, decoded
with pycrate (loaded on first use, from a cache of its compiled objects: see
:mod:`sensor.codecs.compiled`). The fields that matter to monitoring are picked from the decoded
tree by name, wherever they sit. Each NAS PDU the message carries becomes a second event, of
dataset ``nas5gs`` (:mod:`sensor.codecs.nas5gs`), on the same frame.

>>> release_complete = "2029 0013 000002 000a 40 06 80 0200000005 0055 40 02 0001"
>>> result = parse_pdu(bytes.fromhex(release_complete), to_server=True)
>>> result.pdu.procedure_name, result.pdu.pdu_type, result.pdu.ies["amf_ue_ngap_id"]
('UEContextRelease', 'successfulOutcome', 8589934597)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sensor.analyzers.base import AnalyzerSpec, Malformed, Parsed, ParseResult, code_name
from sensor.codecs import compiled, nas5gs
from sensor.collector import freeze_long_lived

PDU_TYPES = ("initiatingMessage", "successfulOutcome", "unsuccessfulOutcome")
CRITICALITIES = ("reject", "ignore", "notify")
PROCEDURE_NAMES = dict(enumerate((
    "AMFConfigurationUpdate", "AMFStatusIndication", "CellTrafficTrace", "DeactivateTrace",
    "DownlinkNASTransport", "DownlinkNonUEAssociatedNRPPaTransport",
    "DownlinkRANConfigurationTransfer", "DownlinkRANStatusTransfer",
    "DownlinkUEAssociatedNRPPaTransport", "ErrorIndication", "HandoverCancel",
    "HandoverNotification", "HandoverPreparation", "HandoverResourceAllocation",
    "InitialContextSetup", "InitialUEMessage", "LocationReportingControl",
    "LocationReportingFailureIndication", "LocationReport", "NASNonDeliveryIndication",
    "NGReset", "NGSetup", "OverloadStart", "OverloadStop", "Paging", "PathSwitchRequest",
    "PDUSessionResourceModify", "PDUSessionResourceModifyIndication",
    "PDUSessionResourceRelease", "PDUSessionResourceSetup", "PDUSessionResourceNotify",
    "PrivateMessage", "PWSCancel", "PWSFailureIndication", "PWSRestartIndication",
    "RANConfigurationUpdate", "RerouteNASRequest", "RRCInactiveTransitionReport",
    "TraceFailureIndication", "TraceStart", "UEContextModification", "UEContextRelease",
    "UEContextReleaseRequest", "UERadioCapabilityCheck", "UERadioCapabilityInfoIndication",
    "UETNLABindingRelease", "UplinkNASTransport", "UplinkNonUEAssociatedNRPPaTransport",
    "UplinkRANConfigurationTransfer", "UplinkRANStatusTransfer",
    "UplinkUEAssociatedNRPPaTransport", "WriteReplaceWarning", "SecondaryRATDataUsageReport",
    "UplinkRIMInformationTransfer", "DownlinkRIMInformationTransfer", "RetrieveUEInformation",
    "UEInformationTransfer", "RANCPRelocationIndication", "UEContextResume",
    "UEContextSuspend", "UERadioCapabilityIDMapping", "HandoverSuccess",
    "UplinkRANEarlyStatusTransfer", "DownlinkRANEarlyStatusTransfer",
    "AMFCPRelocationIndication", "ConnectionEstablishmentIndication",
    "BroadcastSessionModification", "BroadcastSessionRelease", "BroadcastSessionSetup",
    "DistributionSetup", "DistributionRelease", "MulticastSessionActivation",
    "MulticastSessionDeactivation", "MulticastSessionUpdate", "MulticastGroupPaging",
    "BroadcastSessionReleaseRequired", "TimingSynchronisationStatus",
    "TimingSynchronisationStatusReport", "MTCommunicationHandling", "RANPagingRequest",
    "BroadcastSessionTransport",
)))
# UE security capability bits, most significant first (TS 38.413 9.3.1.86)
NR_ENCRYPTION = ("128-NEA1", "128-NEA2", "128-NEA3")
NR_INTEGRITY = ("128-NIA1", "128-NIA2", "128-NIA3")
EUTRA_ENCRYPTION = ("128-EEA1", "128-EEA2", "128-EEA3")
EUTRA_INTEGRITY = ("128-EIA1", "128-EIA2", "128-EIA3")


class Anomaly(StrEnum):
    BAD_CHOICE = "ngap_bad_pdu_choice"
    UNDECODABLE = "ngap_undecodable"


@dataclass(frozen=True, slots=True)
class NgapPdu:
    pdu_type: str
    procedure_code: int
    criticality: str
    message_name: str
    ies: dict[str, Any] = field(default_factory=dict)     # the ngap.* fields found in the IEs
    nas_pdus: tuple[bytes, ...] = ()

    @property
    def procedure_name(self) -> str:
        return code_name(PROCEDURE_NAMES, self.procedure_code)


def probe(payload: bytes) -> bool | None:
    """An APER NGAP-PDU: one of the three choices, then a byte of procedure code and a
    criticality, both octet-aligned."""
    if len(payload) < 3:
        return None
    return payload[0] in (0x00, 0x20, 0x40) and payload[2] in (0x00, 0x40, 0x80)


def parse_pdu(buf: bytes, to_server: bool) -> ParseResult:
    """One NGAP message (SCTP delivers it whole)."""
    if len(buf) < 3 or buf[0] not in (0x00, 0x20, 0x40):
        return Malformed(Anomaly.BAD_CHOICE)
    decoded = _decode(buf)
    if decoded is None:
        return Malformed(Anomaly.UNDECODABLE)
    pdu_type, message = decoded
    try:
        message_name, content = message["value"]
        pdu = NgapPdu(pdu_type, message["procedureCode"], message["criticality"],
                      message_name, *_pick_ies(content))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return Malformed(Anomaly.UNDECODABLE)
    return Parsed(pdu, len(buf))


def to_event(pdu: NgapPdu, state: None = None) -> list[dict[str, Any]]:
    """The NGAP event, then one ``nas5gs`` event per NAS PDU it carries."""
    fields: dict[str, Any] = {
        "procedure_code": pdu.procedure_code, "procedure_name": pdu.procedure_name,
        "pdu_type": pdu.pdu_type, "message_name": pdu.message_name,
        "criticality": pdu.criticality, **pdu.ies,
    }
    if pdu.nas_pdus:
        fields["nas_pdu_count"] = len(pdu.nas_pdus)
    names = ("procedure_code", "procedure_name", "ran_ue_ngap_id", "amf_ue_ngap_id")
    context: dict[str, Any] = {k: fields[k] for k in names if k in fields}
    events = [{"network": {"protocol": "ngap"}, "ngap": fields}]
    return events + [nas_event(raw, context) for raw in pdu.nas_pdus]


def nas_event(raw: bytes, ngap_context: dict[str, Any]) -> dict[str, Any]:
    """A ``nas5gs`` event, or a ``weird`` one when the NAS headers cannot be read."""
    try:
        fields = nas5gs.decode(raw)
    except nas5gs.NasMalformed as exc:
        return {"event": {"dataset": "weird"}, "network": {"protocol": "nas-5gs"},
                "weird": {"name": str(exc.reason), "analyzer": "ngap"}}
    return {"event": {"dataset": "nas5gs"}, "network": {"protocol": "nas-5gs"},
            "nas5gs": fields, "ngap": ngap_context}


# --- decoding with pycrate -----------------------------------------------------------------

_ngap: _Ngap | None = None
_decoding = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Ngap:
    """The two objects of pycrate's compiled NGAP module this analyzer uses."""
    pdu: Any     # NGAP-PDU, the decoder
    cause: Any   # Cause, for the numbers of cause values


def _asn1() -> _Ngap:
    """pycrate's NGAP decoder, loaded on first use: from the compiled-object cache (a tenth of
    a second), or by importing the module (about a second), which fills the cache."""
    global _ngap
    if _ngap is None:
        _ngap = compiled.Cache().load("ngap", _SOURCES, _import_ngap)
        _skip_constraint_walks()
        freeze_long_lived()   # pycrate's type objects live as long as the process
    return _ngap


def _skip_constraint_walks() -> None:
    """After a decode pycrate walks the value again to check it against the constraints: the
    message, and each information element's value, which is decoded on its own as an open
    type. That is a third of the decoding time. Decoding APER already bounds what it reads,
    and on a real capture's 1,306 messages and 14,000 damaged copies of them the walks change
    no outcome (tests/sensor/test_compiled_cache.py), so this decoder goes without them. The
    switch is a class attribute of pycrate's ASN.1 runtime, which only NGAP uses here."""
    from pycrate_asn1rt.asnobj import ASN1Obj  # type: ignore[import-untyped]

    ASN1Obj._SAFE_BND = False


_SOURCES = ("pycrate_asn1dir.NGAP", "pycrate_asn1rt.init", __name__)
"""The compiled module, pycrate's code that links its objects and this module, which sets
them up: the cache's key."""


def _import_ngap() -> _Ngap:
    from pycrate_asn1dir import NGAP  # type: ignore[import-untyped]

    return _Ngap(NGAP.NGAP_PDU_Descriptions.NGAP_PDU, NGAP.NGAP_IEs.Cause)


def _decode(buf: bytes) -> tuple[str, dict[str, Any]] | None:
    codec = _asn1().pdu
    # pycrate decodes into the one shared type object: one decode at a time, and any failure
    # of this third-party decoder on hostile bytes means "not NGAP"
    with _decoding:
        try:
            codec.from_aper(buf)
            value = codec.get_val()
        except Exception:
            return None
    if not (isinstance(value, tuple) and value[0] in PDU_TYPES and isinstance(value[1], dict)):
        return None
    return value


# --- picking fields out of the decoded tree ------------------------------------------------

def _named_values(value: Any) -> list[tuple[str, Any]]:
    """Every (name, value) of a decoded tree, in message order: SEQUENCE members and the
    chosen alternative of a CHOICE or open type."""
    found: list[tuple[str, Any]] = []
    _collect_named(value, found)
    return found


def _collect_named(value: Any, found: list[tuple[str, Any]]) -> None:
    """Appends rather than yields: a value found deep in the tree then costs one call, not one
    generator step per level above it."""
    if isinstance(value, dict):
        for name, item in value.items():
            found.append((name, item))
            _collect_named(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_named(item, found)
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        found.append(value)
        _collect_named(value[1], found)


def _pick_ies(content: Any) -> tuple[dict[str, Any], tuple[bytes, ...]]:
    ies: dict[str, Any] = {}
    nas_pdus: list[bytes] = []
    for name, value in _named_values(content):
        if name in NAS_PDU_NAMES and isinstance(value, bytes):
            nas_pdus.append(value)
        elif name in PDU_SESSION_ID_NAMES and isinstance(value, int):
            ids = ies.setdefault("pdu_session_ids", [])
            if value not in ids:
                ids.append(value)
        else:
            reader = IE_READERS.get(name)
            if reader is not None and reader[0] not in ies:
                ies[reader[0]] = reader[1](value)
    _add_plmn(ies)
    return ies, tuple(nas_pdus)


def _add_plmn(ies: dict[str, Any]) -> None:
    """The PLMN the message is about: of its location, else of the node or AMF it names."""
    for key in ("tai", "nr_cgi", "global_ran_node_id", "guami"):
        if key in ies and "mcc" in ies[key]:
            ies["plmn"] = {"mcc": ies[key]["mcc"], "mnc": ies[key]["mnc"]}
            return


def _plmn(octets: bytes) -> dict[str, str]:
    mcc, mnc = nas5gs.plmn(octets)
    return {"mcc": mcc, "mnc": mnc}


def _tai(value: dict[str, Any]) -> dict[str, Any]:
    return _plmn(value["pLMNIdentity"]) | {"tac": int.from_bytes(value["tAC"], "big")}


def _nr_cgi(value: dict[str, Any]) -> dict[str, Any]:
    return _plmn(value["pLMNIdentity"]) | {"cell_id": value["nRCellIdentity"][0]}


def _global_ran_node(value: tuple[str, Any]) -> dict[str, Any]:
    """A gNB, ng-eNB, N3IWF... id: the PLMN and the node id (a bit string) of any kind."""
    kind, node = value
    fields: dict[str, Any] = {"type": kind}
    if isinstance(node, dict):
        if isinstance(node.get("pLMNIdentity"), bytes):
            fields |= _plmn(node["pLMNIdentity"])
        for item in node.values():
            if isinstance(item, tuple) and isinstance(item[1], tuple):
                fields["id"], fields["id_bits"] = item[1]
                break
    return fields


def _guami(value: dict[str, Any]) -> dict[str, Any]:
    return _plmn(value["pLMNIdentity"]) | {
        "amf_region_id": value["aMFRegionID"][0], "amf_set_id": value["aMFSetID"][0],
        "amf_pointer": value["aMFPointer"][0]}


def _cause(value: tuple[str, str]) -> dict[str, Any]:
    group, name = value
    fields: dict[str, Any] = {"group": group, "name": name}
    code = _cause_code(group, name)
    if code is not None:
        fields["value"] = code
    return fields


def _cause_code(group: str, name: str) -> int | None:
    """The number of a cause value, from the enumeration pycrate compiled."""
    groups = _asn1().cause._cont
    if group not in groups:
        return None
    values = groups[group]._cont        # an ASN1Dict: no ``get``
    if name not in values:
        return None
    return int(values[name])


def _algorithms(bits: tuple[int, int], names: tuple[str, ...]) -> list[str]:
    value, length = bits
    return [name for i, name in enumerate(names) if length > i and value >> (length - 1 - i) & 1]


def _security_capabilities(value: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "nr_encryption": _algorithms(value["nRencryptionAlgorithms"], NR_ENCRYPTION),
        "nr_integrity": _algorithms(value["nRintegrityProtectionAlgorithms"], NR_INTEGRITY),
        "eutra_encryption": _algorithms(value["eUTRAencryptionAlgorithms"], EUTRA_ENCRYPTION),
        "eutra_integrity": _algorithms(value["eUTRAintegrityProtectionAlgorithms"],
                                       EUTRA_INTEGRITY),
    }


def _s_tmsi(value: dict[str, Any]) -> dict[str, Any]:
    return {"amf_set_id": value["aMFSetID"][0], "amf_pointer": value["aMFPointer"][0],
            "tmsi": value["fiveG-TMSI"].hex()}


def _same(value: Any) -> Any:
    return value


NAS_PDU_NAMES = frozenset({"NAS-PDU", "nAS-PDU", "pDUSessionNAS-PDU"})
PDU_SESSION_ID_NAMES = frozenset({"pDUSessionID", "PDUSessionID"})
IE_READERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "RAN-UE-NGAP-ID": ("ran_ue_ngap_id", _same),
    "rAN-UE-NGAP-ID": ("ran_ue_ngap_id", _same),
    "AMF-UE-NGAP-ID": ("amf_ue_ngap_id", _same),
    "aMF-UE-NGAP-ID": ("amf_ue_ngap_id", _same),
    "RANNodeName": ("ran_node_name", _same),
    "AMFName": ("amf_name", _same),
    "RRCEstablishmentCause": ("rrc_establishment_cause", _same),
    "GlobalRANNodeID": ("global_ran_node_id", _global_ran_node),
    "globalRANNodeID": ("global_ran_node_id", _global_ran_node),
    "tAI": ("tai", _tai),
    "nR-CGI": ("nr_cgi", _nr_cgi),
    "GUAMI": ("guami", _guami),
    "gUAMI": ("guami", _guami),
    "Cause": ("cause", _cause),
    "cause": ("cause", _cause),
    "UESecurityCapabilities": ("ue_security_capabilities", _security_capabilities),
    "FiveG-S-TMSI": ("five_g_s_tmsi", _s_tmsi),
}


def load() -> None:
    """Load pycrate's NGAP decoder and NAS parser now rather than on the first message."""
    _asn1()
    nas5gs.load()


ANALYZER = AnalyzerSpec(
    name="ngap", transport="sctp", ports=(38412,), probe=probe, parse=parse_pdu,
    to_event=to_event, ppids=(60,), load=load,
)
