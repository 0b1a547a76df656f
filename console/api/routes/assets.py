"""``/api/assets``: the inventory of hosts discovered from traffic, and one host in detail."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status

from console.api.deps import StoreDep, ViewerDep
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from console.api.schemas_assets import AssetDetailPublic, AssetPublic, AssetsPublic
from pipelines.assets.model import Asset, public_peers
from pipelines.store.assets import MAX_TEXT, AssetFilter

router = APIRouter(prefix="/api/assets", tags=["assets"], responses={
    **AUTH_RESPONSES, 400: {"model": ErrorPublic, "description": "a search the store refuses"},
    503: {"model": ErrorPublic, "description": "the store cannot answer"}})

RECENT_ALERTS = 20
MAX_PEERS_SHOWN = 100
Name = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.get("", response_model=AssetsPublic)
def search_assets(
    _: ViewerDep,
    store: StoreDep,
    q: Annotated[str, Query(max_length=MAX_TEXT, description="part of an address, MAC, "
                            "vendor, role, protocol, name or fingerprint value")] = "",
    role: Name = None,
    zone: Name = None,
    protocol: Name = None,
    sort: Literal["risk", "last_seen"] = "risk",
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AssetsPublic:
    """Assets matching the filters, riskiest (or most recently seen) first."""
    filters = AssetFilter(q.strip() or None, role, zone, protocol, sort)
    found = store.search_assets(filters, size=size, offset=offset)
    return AssetsPublic(data=[public(asset) for asset in found.data], count=found.count)


@router.get("/{ip}", response_model=AssetDetailPublic, responses={
    404: {"model": ErrorPublic, "description": "no asset with this address"}})
def read_asset(_: ViewerDep, store: StoreDep, ip: str) -> Any:
    """One asset, its peers and the most recent alerts that name it."""
    address = _address(ip)
    asset = store.get_asset(address)
    if asset is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no asset with this address")
    query = (f'event.kind:alert AND (source.ip:"{address}" OR destination.ip:"{address}")')
    alerts = store.search(query, size=RECENT_ALERTS).data
    return {"asset": public(asset), "peers": public_peers(asset)[:MAX_PEERS_SHOWN],
            "alerts": alerts}


def public(asset: Asset) -> AssetPublic:
    fields = {key: value for key, value in asset.items() if key in AssetPublic.model_fields}
    return AssetPublic(**fields, peer_count=len(asset.get("peers", {})))


def _address(text: str) -> str:
    """The address in its canonical form; 422 for anything else."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{text!r} is not an IP address") from exc
