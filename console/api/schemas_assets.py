"""Schemas of ``/api/assets``: the passively discovered inventory (see
:mod:`pipelines.assets.model` for how records are built)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from console.api.schemas import EventPublic


class AssetRiskPublic(BaseModel):
    alerts: int = Field(description="alerts naming the address as source or destination")
    max_severity: int = Field(description="1 low - 4 critical; 0 without alerts")
    score: int = Field(description="the highest risk score (0-100) of those alerts")


class AssetPublic(BaseModel):
    """One host by IP address, as its traffic shows it."""

    ip: str
    macs: list[str] = Field(description="the host's own MACs (ECS notation)")
    gateway_macs: list[str] = Field(
        default_factory=list, description="MACs seen with this address that a gateway uses "
                                          "for many addresses: the host is behind it")
    vendor: str | None = Field(description="the MAC's registered vendor, else the vendor a "
                                           "device identity names")
    first_seen: str
    last_seen: str
    events: int
    protocols: dict[str, int] = Field(description="events per protocol")
    roles: list[str] = Field(description="e.g. master, plc, outstation, gnb, amf, smf, upf, nrf")
    zone: str = Field(description="the configured zone's kind, else inferred: ot, 5gc, ran, it")
    configured: dict[str, Any] = Field(description="the configured asset and zone, if any")
    fingerprints: dict[str, dict[str, Any]] = Field(
        description="self-descriptions by source: modbus (device identification), s7comm "
                    "(SZL module), enip (identity), nf_profile, diameter, ngap, pfcp")
    risk: AssetRiskPublic
    peer_count: int


class AssetsPublic(BaseModel):
    """A page of assets in the asked order."""

    data: list[AssetPublic]
    count: int = Field(description="all matches, not only this page")


class PeerPublic(BaseModel):
    ip: str
    count: int = Field(description="events between the two")
    protocols: dict[str, int]
    last_seen: str


class AssetDetailPublic(BaseModel):
    """An asset with its peers (busiest first) and its most recent alerts."""

    asset: AssetPublic
    peers: list[PeerPublic]
    alerts: list[EventPublic]
