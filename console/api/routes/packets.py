"""``/api/alerts/{id}/pcap``: the packets of an alert's flow, as a pcap to open in Wireshark.

Analysts only: packets carry subscriber identifiers and payloads that events pseudonymise or
leave out. Every export is audited. The slice comes from the capture file a replay read, or
from the live sensor's packet buffer (:mod:`pipelines.packets.export`).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from console.api.deps import AccountsDep, AnalystDep, SettingsDep, StoreDep, client_ip
from console.api.routes.alerts import NOT_FOUND
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from liaowang.events import get_field
from pipelines.packets.export import NoPackets, alert_pcap

router = APIRouter(prefix="/api/alerts", tags=["alerts"], responses=AUTH_RESPONSES)

PCAP_TYPE = "application/vnd.tcpdump.pcap"


@router.get("/{alert_id}/pcap", response_class=Response,
            responses={200: {"content": {PCAP_TYPE: {}}, "description": "a pcap file"},
                       404: {"model": ErrorPublic,
                             "description": "no such alert, or no packets of it"}})
async def alert_packets(caller: AnalystDep, request: Request, store: StoreDep,
                        settings: SettingsDep, accounts: AccountsDep, alert_id: str
                        ) -> Response:
    """The packets of the alert's flow (and the frames it names) as a pcap."""
    alert = await run_in_threadpool(store.get, alert_id)
    if alert is None or get_field(alert, "event.kind") != "alert":
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    try:
        export = await run_in_threadpool(alert_pcap, alert, settings.sensor.packet_buffer)
    except NoPackets as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    accounts.audit.record(caller.actor, "alert.pcap", alert_id, client_ip(request),
                          f"{export.packets} packets from the {export.source}")
    headers = {"Content-Disposition": f'attachment; filename="alert-{alert_id}.pcap"',
               "X-Liaowang-Packets": str(export.packets),
               "X-Liaowang-Truncated": "true" if export.truncated else "false"}
    return Response(export.pcap, media_type=PCAP_TYPE, headers=headers)
