"""The console application: the API routers, the web UI and the error mapping.

Errors are JSON ``{"detail": "<text>"}``, never tracebacks: an invalid parameter or body is a
``422`` naming it, a query that does not parse is a ``400`` saying why, and any other store
failure is a ``503``.

Every API route but ``/api/health`` and ``/api/auth/login`` needs a session or an API token
(:mod:`console.api.deps`); accounts live in their own SQLite file (``console.accounts_db``).

Serving it::

    app = create_app(open_store("sqlite:///var/lib/liaowang/events.db"))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from console.api.routes import (
    actions,
    alerts,
    assets,
    audit,
    auth,
    events,
    health,
    incidents,
    ingest,
    overview,
    packets,
    rules,
    saved_queries,
    sensors,
    stream,
    tokens,
    users,
    webhooks,
)
from console.auth.accounts import Accounts
from console.housekeeping import housekeeping
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


ROUTERS = (health, auth, overview, alerts, events, stream, users, tokens, audit, ingest,
           sensors, rules,
           actions, packets, webhooks, incidents, assets,
           saved_queries)


def create_app(store: Store, settings: Settings | None = None,
               accounts: Accounts | None = None) -> FastAPI:
    """The console over ``store``; the caller owns the store and closes it. Without
    ``accounts``, the app opens ``console.accounts_db`` and closes it when it shuts down."""
    settings = settings or Settings()
    owned = None if accounts else Accounts.open(settings.console.accounts_db, settings.console)
    app = FastAPI(title="Liaowang console", version=__version__, lifespan=_closing(owned))
    app.state.store = store
    app.state.settings = settings
    app.state.accounts = accounts or owned
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(QueryError, _query_error)
    app.add_exception_handler(StoreError, _store_error)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_api_route("/", _index, include_in_schema=False)
    return app


def _closing(accounts: Accounts | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: close the accounts it opened itself."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with housekeeping(app):
            yield
        if accounts is not None:
            accounts.close()

    return lifespan


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = "; ".join(_describe(error) for error in errors) or "invalid request"
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def _describe(error: dict) -> str:
    """``query.size: Input should be greater than or equal to 1``."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


async def _query_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc) or "invalid query"}, status.HTTP_400_BAD_REQUEST)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("store error on %s %s: %r", request.method, request.url.path, exc)
    detail = "the event store cannot answer right now; try again later"
    return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE)


async def _index() -> FileResponse:
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}
    return FileResponse(WEB_DIR / "index.html", headers=headers)
