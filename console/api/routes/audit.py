"""``/api/audit``: who did what, when and from where (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from console.api.deps import AccountsDep, AdminDep
from console.api.schemas import AUTH_RESPONSES, AuditEntryPublic, AuditPublic

router = APIRouter(prefix="/api/audit", tags=["audit"], responses=AUTH_RESPONSES)


@router.get("", response_model=AuditPublic)
def read_audit(_: AdminDep, accounts: AccountsDep,
               size: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10**9,
                                            description="entries to skip (paging)")] = 0,
               ) -> AuditPublic:
    """The latest ``size`` entries after the ``offset`` newest ones, newest first."""
    entries = accounts.audit.recent(size, offset)
    return AuditPublic(data=[
        AuditEntryPublic(at=datetime.fromtimestamp(e.at, UTC), username=e.username,
                         action=e.action, target=e.target, source_ip=e.source_ip,
                         detail=e.detail)
        for e in entries])
