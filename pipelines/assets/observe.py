"""What one event says about its endpoints: sightings with roles and fingerprints.

Roles follow from who asks and who answers. Request/response protocols mark their responses
(``modbus.is_response``, ``diameter.is_request``, ...); where they do not, the side on the
protocol's well-known port is the server. The names are the trade's: a Modbus or DNP3 client is
a ``master``, a Modbus or S7 server a ``plc``, a DNP3 server an ``outstation``; IEC 104 has
``controlling_station`` and ``controlled_station``; 5G core nodes are named by their function
(``gnb``, ``amf``, ``smf``, ``upf``, and the SBI NF types in lower case).

>>> request = {"@timestamp": "2026-01-01T00:00:01.000000Z",
...            "event": {"kind": "event", "dataset": "modbus"},
...            "source": {"ip": "10.0.0.5", "port": 49200},
...            "destination": {"ip": "10.0.0.9", "port": 502},
...            "modbus": {"function_code": 3, "is_response": False}}
>>> [(s.ip, s.role, s.peer) for s in sightings(request)]
[('10.0.0.5', 'master', '10.0.0.9'), ('10.0.0.9', 'plc', '10.0.0.5')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liaowang.events import get_field

Event = dict[str, Any]
Sides = tuple[str | None, str | None]          # (role of the source, role of the destination)

SIDES = ("source", "destination")


@dataclass(slots=True)
class Sighting:
    """One endpoint of one event, and what the event says about it."""

    ip: str
    at: str
    peer: str | None = None
    protocol: str | None = None
    mac: str | None = None
    role: str | None = None
    fingerprint: tuple[str, dict[str, Any]] | None = None
    alert: tuple[int, int] | None = None       # (severity 1-4, risk score 0-100) of an alert
    placement: dict[str, Any] | None = None    # the configured asset and zone (enrichment)


CLIENT_SERVER = {
    "modbus": ("master", "plc"),
    "s7comm": ("hmi", "plc"),
    "dnp3": ("master", "outstation"),
    "iec104": ("controlling_station", "controlled_station"),
    "enip": ("enip_client", "enip_server"),
    "opcua": ("opcua_client", "opcua_server"),
    "bacnet": ("bacnet_client", "bacnet_device"),
    "ngap": ("gnb", "amf"),
}
"""(client role, server role) of the protocols whose roles follow from the direction alone."""

SERVER_PORTS = {"modbus": 502, "s7comm": 102, "dnp3": 20000, "iec104": 2404, "enip": 44818,
                "opcua": 4840, "ngap": 38412}
"""Well-known server ports, for the protocols whose events do not mark responses."""

RESPONSE_FLAGS = frozenset({"modbus", "s7comm", "dnp3", "enip", "sbi"})   # <ns>.is_response
REQUEST_FLAGS = frozenset({"diameter", "pfcp"})                         # <ns>.is_request

DIAMETER_APPLICATIONS = {
    4: ("ctf", "ocs"),                 # Gy/Ro credit control
    16777216: ("cscf", "hss"),         # Cx
    16777217: ("as", "hss"),           # Sh
    16777236: ("af", "pcrf"),          # Rx
    16777238: ("pcef", "pcrf"),        # Gx
    16777251: ("mme", "hss"),          # S6a/S6d
    16777265: ("aaa", "hss"),          # SWx
    16777272: ("pgw", "aaa"),          # S6b
}
"""Diameter application id → (client role, server role), after 3GPP TS 29.230."""

PFCP_CP_TO_UP = {50, 52, 54, 57}      # session establishment/modification/deletion requests;
PFCP_UP_TO_CP = {51, 53, 55, 56}      # their responses; session report request (and response)

FINGERPRINTS = {
    "modbus": ("vendor_name", "product_code", "revision", "product_name", "model_name",
               "vendor_url", "user_application_name"),
    "enip": ("vendor_id", "vendor_name", "device_type_name", "product_code", "product_name",
             "revision", "serial_number"),
    "s7comm": ("module_name", "order_number", "module_type", "firmware_version",
               "serial_number"),
    "bacnet": ("vendor_id", "vendor_name", "object_instance"),
    "opcua": ("server_uri",),
}
"""Self-descriptions read from responses, kept under the protocol's name; the responder owns
them (ENIP identity fields live under ``enip.identity``)."""


def sightings(event: Event) -> list[Sighting]:
    """A sighting of each endpoint with an address; alerts add to the risk of both."""
    ends = [_endpoint(event, side) for side in SIDES]
    ips = [end.get("ip") for end in ends]
    at = event.get("@timestamp")
    if not isinstance(at, str):
        return []
    meta = event.get("event") or {}
    if meta.get("kind") == "alert":
        return _alert_sightings(event, ips, at)
    dataset = meta.get("dataset")
    roles = _roles(event, dataset) if isinstance(dataset, str) else (None, None)
    protocol = _protocol(event, dataset)
    found = [Sighting(ip, at, peer=other, protocol=protocol, mac=_unicast(end.get("mac")),
                      role=role, placement=_placement(end))
             for end, ip, other, role in zip(ends, ips, ips[::-1], roles, strict=True)
             if isinstance(ip, str)]
    if dataset in _FINGERPRINTED:
        found += _fingerprint_sightings(event, dataset, ips, at)
    return found + _tunnel_sightings(event, at) if "gtp" in event else found


def _endpoint(event: Event, side: str) -> dict[str, Any]:
    end = event.get(side)
    return end if isinstance(end, dict) else {}


def _alert_sightings(event: Event, ips: list[Any], at: str) -> list[Sighting]:
    severity = _number(get_field(event, "event.severity"))
    score = _number(get_field(event, "event.risk_score"))
    return [Sighting(ip, at, alert=(severity, score)) for ip in ips if isinstance(ip, str)]


def _placement(end: dict[str, Any]) -> dict[str, Any] | None:
    """What the asset enrichment (``pipelines.enrich.assets``) put on an endpoint: the
    configured zone (name and kind) and asset (name, criticality, role)."""
    asset = end.get("asset")
    if "zone" not in end and not isinstance(asset, dict):
        return None
    found = {key: end[key] for key in ("zone", "zone_kind") if key in end}
    if isinstance(asset, dict):
        found |= {key: asset[key] for key in ("name", "criticality", "role") if key in asset}
    return found or None


def _protocol(event: Event, dataset: Any) -> str | None:
    if dataset == "flow":
        return _text(get_field(event, "network.protocol"))
    return None if dataset == "weird" else _text(dataset)


# --- roles ---------------------------------------------------------------------------------------

def roles_of(event: Event) -> Sides:
    """The roles of the source and the destination, None where the event does not tell."""
    dataset = get_field(event, "event.dataset")
    return _roles(event, dataset) if isinstance(dataset, str) else (None, None)


def _roles(event: Event, dataset: str) -> Sides:
    special = _SPECIAL_ROLES.get(dataset)
    if special is not None:
        return special(event)
    pair = CLIENT_SERVER.get(dataset)
    if pair is None:
        return None, None
    return _oriented(pair, _source_is_client(event, dataset))


def _oriented(pair: tuple[str, str], source_is_client: bool | None) -> Sides:
    if source_is_client is None:
        return None, None
    return pair if source_is_client else (pair[1], pair[0])


def _source_is_client(event: Event, dataset: str) -> bool | None:
    """True when the source asks, False when it answers, None when nothing tells."""
    namespace = event.get(dataset)
    if isinstance(namespace, dict):
        flag = namespace.get("is_response")
        if isinstance(flag, bool) and dataset in RESPONSE_FLAGS:
            return not flag
        flag = namespace.get("is_request")
        if isinstance(flag, bool) and dataset in REQUEST_FLAGS:
            return flag
    return _by_port(event, SERVER_PORTS.get(dataset))


def _by_port(event: Event, port: int | None) -> bool | None:
    if port is None:
        return None
    if _endpoint(event, "destination").get("port") == port:
        return True
    return False if _endpoint(event, "source").get("port") == port else None


def _bacnet_roles(event: Event) -> Sides:
    """Confirmed requests come from clients; acks and I-Am from devices."""
    apdu_type = get_field(event, "bacnet.apdu_type")
    if apdu_type == 0:
        return "bacnet_client", "bacnet_device"
    if apdu_type in (2, 3) or get_field(event, "bacnet.service_name") == "i_am":
        return "bacnet_device", "bacnet_client"
    return None, None


def _pfcp_roles(event: Event) -> Sides:
    """SMF and UPF from the session messages' direction or the features a node announces."""
    if get_field(event, "pfcp.up_function_features") is not None:
        return "upf", None
    if get_field(event, "pfcp.cp_function_features") is not None:
        return "smf", None
    message_type = get_field(event, "pfcp.message_type")
    if message_type in PFCP_CP_TO_UP:
        return "smf", "upf"
    return ("upf", "smf") if message_type in PFCP_UP_TO_CP else (None, None)


def _diameter_roles(event: Event) -> Sides:
    pair = DIAMETER_APPLICATIONS.get(get_field(event, "diameter.application_id"))
    if pair is None:
        return None, None
    return _oriented(pair, _source_is_client(event, "diameter"))


def _sbi_roles(event: Event) -> Sides:
    """NF types: the producer serves the service (``nudm-sdm`` → ``udm``), the requester asks."""
    producer = _text(get_field(event, "sbi.producer_nf_type")) or _service_nf(event)
    requester = _text(get_field(event, "sbi.requester_nf_type"))
    pair = (requester.lower() if requester else None, producer.lower() if producer else None)
    source_is_client = _source_is_client(event, "sbi")
    if source_is_client is None:
        return None, None
    return pair if source_is_client else (pair[1], pair[0])


def _service_nf(event: Event) -> str | None:
    service = _text(get_field(event, "sbi.service"))
    if not service or not service.startswith("n") or "-" not in service:
        return None
    return service[1:service.index("-")] or None


def _gtp_roles(event: Event) -> Sides:
    return "gtpu_endpoint", "gtpu_endpoint"


_SPECIAL_ROLES: dict[str, Callable[[Event], Sides]] = {
    "bacnet": _bacnet_roles, "pfcp": _pfcp_roles, "diameter": _diameter_roles,
    "sbi": _sbi_roles, "gtpu": _gtp_roles,
}


# --- fingerprints --------------------------------------------------------------------------------

def _fingerprint_sightings(event: Event, dataset: str, ips: list[Any],
                           at: str) -> list[Sighting]:
    """Self-descriptions: the responder's device identity, the NF profile of the registering
    NF, the Diameter identity of the sender, the names of gNB and AMF."""
    found = []
    for side, name, values in _fingerprints(event, dataset):
        ip = ips[SIDES.index(side)]
        if isinstance(ip, str) and values:
            found.append(Sighting(ip, at, fingerprint=(name, values)))
    return found


def _fingerprints(event: Event, dataset: str) -> list[tuple[str, str, dict[str, Any]]]:
    if dataset in FINGERPRINTS:
        prefix = "enip.identity" if dataset == "enip" else dataset
        values = _pick(event, prefix, FINGERPRINTS[dataset])
        return [("source", dataset, values)]
    maker = _FINGERPRINT_MAKERS.get(dataset) if isinstance(dataset, str) else None
    return maker(event) if maker else []


def _nf_profile(event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    values = _pick(event, "sbi", ("nf_type", "nf_instance_id", "nf_status"))
    if not values.get("nf_type"):
        return []
    side = "source" if get_field(event, "sbi.is_response") is not True else "destination"
    return [(side, "nf_profile", values)]


def _diameter_identity(event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    values = _pick(event, "diameter", ("origin_host", "origin_realm", "product_name"))
    return [("source", "diameter", values)]


def _ngap_names(event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    amf_is_destination = _by_port(event, SERVER_PORTS["ngap"]) is not False
    gnb, amf = ("source", "destination") if amf_is_destination else ("destination", "source")
    ran = _pick(event, "ngap", ("ran_node_name", "global_ran_node_id.id",
                                "global_ran_node_id.mcc", "global_ran_node_id.mnc"))
    core = _pick(event, "ngap", ("amf_name", "guami.amf_region_id", "guami.amf_set_id"))
    return [(gnb, "ngap", ran), (amf, "ngap", core)]


def _pfcp_node(event: Event) -> list[tuple[str, str, dict[str, Any]]]:
    values = _pick(event, "pfcp", ("node_id", "up_function_features", "cp_function_features"))
    return [("source", "pfcp", values)] if "node_id" in values and len(values) > 1 else []


_FINGERPRINT_MAKERS: dict[str, Callable[[Event], list[tuple[str, str, dict[str, Any]]]]] = {
    "sbi": _nf_profile, "diameter": _diameter_identity, "ngap": _ngap_names,
    "pfcp": _pfcp_node,
}
_FINGERPRINTED = frozenset(FINGERPRINTS) | frozenset(_FINGERPRINT_MAKERS)


def _tunnel_sightings(event: Event, at: str) -> list[Sighting]:
    """The outer endpoints of a GTP-U tunnelled flow are GTP-U endpoints (gNB, UPF)."""
    gtp = event.get("gtp")
    if not isinstance(gtp, dict) or "outer_source_ip" not in gtp:
        return []
    outer = [gtp.get(f"outer_{side}_ip") for side in SIDES]
    if not all(isinstance(ip, str) for ip in outer):
        return []
    return [Sighting(ip, at, peer=other, protocol="gtpu", role="gtpu_endpoint")
            for ip, other in zip(outer, outer[::-1], strict=True)]


# --- helpers -------------------------------------------------------------------------------------

def _pick(event: Event, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields under ``prefix`` that have a value (empty lists left out)."""
    namespace = get_field(event, prefix)
    if not isinstance(namespace, dict) or namespace.keys().isdisjoint(_FIRST_PARTS[names]):
        return {}
    values = {name: namespace.get(name) if "." not in name else get_field(namespace, name)
              for name in names}
    return {name: value for name, value in values.items() if value not in (None, "", [])}


class _FirstParts(dict[tuple[str, ...], frozenset[str]]):
    """names → the set of their first parts (``global_ran_node_id.id`` → ``global_ran_node_id``),
    made once per tuple of names."""

    def __missing__(self, names: tuple[str, ...]) -> frozenset[str]:
        parts = frozenset(name.split(".")[0] for name in names)
        self[names] = parts
        return parts


_FIRST_PARTS = _FirstParts()


def _unicast(mac: Any) -> str | None:
    """A MAC that can name a host: not all zeros (captures of loopback or of tools write
    those), not broadcast or multicast (the group bit of the first octet)."""
    if not isinstance(mac, str) or len(mac) != 17 or mac == "00-00-00-00-00-00":
        return None
    try:
        return None if int(mac[:2], 16) & 1 else mac
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
