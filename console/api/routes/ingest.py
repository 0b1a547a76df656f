"""``/api/ingest``: event batches from remote sensors (tokens of the ``sensor`` role only).

The body is NDJSON, one event per line, optionally with ``Content-Encoding: gzip``. The answer
comes once the accepted events are on the console's disk spool: ``200`` with the count when
every line was taken, ``400`` with each refused line (number and reason) when some were not —
the others are taken all the same (see :mod:`console.ingest`). ``503`` asks the sensor to send
the batch again later (the spool is full); since events are stored by ``event.id``, resending
is always safe.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from console.api.deps import SensorDep
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from console.ingest import (
    BadEncoding,
    BatchTooLarge,
    IngestPipeline,
    LineError,
    SpoolFull,
    decode_body,
    parse_batch,
)
from pipelines.sinks.base import Event
from pipelines.spool import SpoolError

MAX_LISTED_ERRORS = 100

router = APIRouter(prefix="/api/ingest", tags=["ingest"], responses={
    **AUTH_RESPONSES,
    400: {"description": "some lines were refused (`errors`: line and reason); "
                         "the others were taken (`accepted`)"},
    413: {"model": ErrorPublic, "description": "the batch is too large"},
    415: {"model": ErrorPublic, "description": "an unknown Content-Encoding"},
    503: {"model": ErrorPublic, "description": "the console cannot spool now; send again"},
})


def ingest_pipeline(request: Request) -> IngestPipeline:
    """The app's ingest pipeline, made on first use and closed with the app."""
    state = request.app.state
    if getattr(state, "ingest", None) is None:
        state.ingest = IngestPipeline(state.store, state.settings)
    pipeline: IngestPipeline = state.ingest
    return pipeline


@router.post("", openapi_extra={"requestBody": {"content": {"application/x-ndjson": {
    "schema": {"type": "string", "description": "one event (JSON) per line"}}}}})
async def ingest(_: SensorDep, request: Request) -> JSONResponse:
    """Spool a batch of events; answered once they are on disk."""
    body = await request.body()
    try:
        data = decode_body(body, request.headers.get("content-encoding"))
    except BatchTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except BadEncoding as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
    events, errors = await run_in_threadpool(parse_batch, data)
    accepted = await run_in_threadpool(_spool, ingest_pipeline(request), events)
    return _answer(accepted, errors)


def _spool(pipeline: IngestPipeline, events: list[Event]) -> int:
    if not events:
        return 0
    try:
        return pipeline.write(events)
    except (SpoolFull, SpoolError) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                            headers={"Retry-After": "5"}) from exc


def _answer(accepted: int, errors: list[LineError]) -> JSONResponse:
    if not errors:
        return JSONResponse({"accepted": accepted, "refused": 0, "errors": []})
    listed = [{"line": e.line, "reason": e.reason} for e in errors[:MAX_LISTED_ERRORS]]
    detail = f"{len(errors)} lines refused, {accepted} events accepted"
    return JSONResponse({"detail": detail, "accepted": accepted, "refused": len(errors),
                         "errors": listed}, status.HTTP_400_BAD_REQUEST)
