"""A small network seen through its events, for asset inventory tests.

Hosts: an HMI (10.0.0.1, Siemens MAC) polling a PLC (10.0.0.2) over Modbus, the PLC answering a
device identification; a gNB (10.1.0.1) and an AMF (10.1.0.2) over NGAP; an SMF (10.2.0.1)
setting up a PFCP session on a UPF (10.2.0.2); an AMF (10.3.0.1) asking a UDM (10.3.0.2) over
the SBI; one critical alert from the HMI to the PLC.
"""

from __future__ import annotations

from pipelines.store.base import Event
from tests.utils.events import at, make_event

HMI, PLC = ("10.0.0.1", 49152), ("10.0.0.2", 502)
GNB, AMF = ("10.1.0.1", 38412), ("10.1.0.2", 38412)
SMF, UPF = ("10.2.0.1", 8805), ("10.2.0.2", 8805)
SBI_AMF, UDM = ("10.3.0.1", 40000), ("10.3.0.2", 80)
HMI_MAC = "00:0e:8c:01:02:03"


def network_events() -> list[Event]:
    """Events of the network above, oldest first, the alert last."""
    return [*_modbus(), *_ngap(), *_pfcp(), *_sbi(), _alert()]


def _modbus() -> list[Event]:
    request = make_event("modbus", at(0), src=HMI, dst=PLC, modbus={
        "transaction_id": 1, "unit_id": 1, "function_code": 43, "is_response": False})
    request["source"]["mac"] = HMI_MAC
    reply = make_event("modbus", at(1), src=PLC, dst=HMI, modbus={
        "transaction_id": 1, "unit_id": 1, "function_code": 43, "is_response": True,
        "mei_type": 14, "vendor_name": "Schneider Electric", "product_code": "BMX P34 2020",
        "revision": "v2.7"})
    return [request, reply]


def _ngap() -> list[Event]:
    setup = make_event("ngap", at(10), src=GNB, dst=AMF, ngap={
        "procedure_code": 21, "pdu_type": "initiatingMessage", "ran_node_name": "gnb-bench-1"})
    setup["network"]["transport"] = "sctp"
    return [setup]


def _pfcp() -> list[Event]:
    establish = make_event("pfcp", at(20), src=SMF, dst=UPF, pfcp={
        "message_type": 50, "is_request": True, "sequence": 7, "seid": 1})
    establish["network"]["transport"] = "udp"
    return [establish]


def _sbi() -> list[Event]:
    request = make_event("sbi", at(30), src=SBI_AMF, dst=UDM, sbi={
        "stream_id": 1, "service": "nudm-sdm", "is_response": False,
        "requester_nf_type": "AMF"},
        http={"request": {"method": "GET"}}, url={"path": "/nudm-sdm/v2/imsi-1/am-data"})
    return [request]


def _alert() -> Event:
    return make_event("modbus", at(40), kind="alert", src=HMI, dst=PLC,
                      event={"severity": 4, "risk_score": 92},
                      rule={"id": "lw-modbus-write", "name": "Modbus write"},
                      modbus={"transaction_id": 2, "unit_id": 1, "function_code": 6})
