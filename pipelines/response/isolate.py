"""``isolate``: cut a 5G-core peer off, through the operator's automation.

The payload names the PFCP/GTP peer (its address, port and the protocol it spoke), the node id
it announced, and the session identifiers seen on its flow: PFCP SEIDs, GTPv2-C and GTP-U TEIDs.
Only alerts on 5G-core protocols can be isolated.

>>> alert = {"event": {"id": "a1", "dataset": "pfcp"}, "network": {"protocol": "pfcp"},
...          "source": {"ip": "192.0.2.10", "port": 8805}, "pfcp": {"seid": 7}}
>>> related = [{"pfcp": {"seid": 9, "node_id": "smf-1.core"}}]
>>> plan = build(alert, related, Options())
>>> plan.payload["peer"], plan.payload["sessions"]["pfcp_seids"]
({'ip': '192.0.2.10', 'port': 8805, 'protocol': 'pfcp', 'node_id': ['smf-1.core']}, [7, 9])
"""

from __future__ import annotations

from collections.abc import Sequence

from liaowang.events import get_field
from pipelines.response.base import (
    ActionError,
    Event,
    Options,
    Plan,
    alert_summary,
    target_address,
    values,
)

CORE_DATASETS = frozenset({"pfcp", "gtpv2", "gtpu", "ngap", "nas5gs", "sbi", "diameter"})


def build(alert: Event, related: Sequence[Event], options: Options) -> Plan:
    dataset = get_field(alert, "event.dataset")
    if dataset not in CORE_DATASETS:
        raise ActionError(f"isolate is for 5G-core peers; this alert is on {dataset!r}, not "
                          f"one of {', '.join(sorted(CORE_DATASETS))}")
    address = target_address(alert, options.side)
    events = [alert, *related]
    peer = {"ip": str(address), "port": get_field(alert, f"{options.side}.port"),
            "protocol": get_field(alert, "network.protocol") or dataset,
            "node_id": values(events, "pfcp.node_id")}
    sessions = {"pfcp_seids": values(events, "pfcp.seid"),
                "gtpv2_teids": values(events, "gtpv2.teid"),
                "gtpu_teids": values(events, "gtp.teid"),
                "community_ids": values(events, "network.community_id")}
    payload = {"action": "isolate", "peer": peer, "sessions": sessions,
               "alert": alert_summary(alert)}
    return Plan({"side": options.side, "ip": str(address)}, payload)
