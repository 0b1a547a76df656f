"""The console application: the API routers, the web UI and the error mapping.

Store errors become JSON answers, never tracebacks: a query that does not parse is a ``400``
whose ``detail`` says why, and any other store failure is a ``503``.

Serving it::

    app = create_app(open_store("sqlite:///var/lib/liaowang/events.db"))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from console.api.routes import events, health
from liaowang import __version__
from liaowang.config import Settings
from pipelines.store.base import QueryError, Store, StoreError

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"

# The SOC network is air-gapped: the page may load and call nothing but this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """The console over ``store``; the caller owns the store and closes it."""
    app = FastAPI(title="Liaowang console", version=__version__)
    app.state.store = store
    app.state.settings = settings or Settings()
    app.include_router(health.router)
    app.include_router(events.router)
    app.add_exception_handler(QueryError, _query_error)
    app.add_exception_handler(StoreError, _store_error)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_api_route("/", _index, include_in_schema=False)
    return app


async def _query_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc) or "invalid query"}, status.HTTP_400_BAD_REQUEST)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("store error on %s %s: %r", request.method, request.url.path, exc)
    detail = "the event store cannot answer right now; try again later"
    return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE)


async def _index() -> FileResponse:
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}
    return FileResponse(WEB_DIR / "index.html", headers=headers)
