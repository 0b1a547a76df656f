"""``/api/health``: is the console up, and which version is it."""

from __future__ import annotations

from fastapi import APIRouter

from console.api.schemas import HealthPublic
from liaowang import __version__

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", response_model=HealthPublic)
def health() -> HealthPublic:
    return HealthPublic(status="ok", version=__version__)
