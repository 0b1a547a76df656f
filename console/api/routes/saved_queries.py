"""``/api/saved-queries``: each hunter's named queries, kept in the accounts file so they follow
the user from browser to browser (a token keeps its own, under its name)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from console.api.deps import AccountsDep, AnalystDep, client_ip
from console.api.schemas import AUTH_RESPONSES, ErrorPublic
from console.auth.saved_queries import SavedQuery, TooManySavedQueries

router = APIRouter(prefix="/api/saved-queries", tags=["hunt"], responses=AUTH_RESPONSES)

RANGES = r"^(15m|1h|24h|7d|all|custom)$"


class SavedQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    query: str = Field(min_length=1, max_length=4096, description="Lucene query string")
    range: str = Field(default="all", pattern=RANGES, description="the hunt's time range")


class SavedQueryPublic(BaseModel):
    id: int
    name: str
    query: str
    range: str
    created_at: datetime


class SavedQueriesPublic(BaseModel):
    data: list[SavedQueryPublic] = Field(description="by name")


def _public(saved: SavedQuery) -> SavedQueryPublic:
    return SavedQueryPublic(id=saved.id, name=saved.name, query=saved.query, range=saved.range,
                            created_at=datetime.fromtimestamp(saved.created_at, UTC))


@router.get("", response_model=SavedQueriesPublic)
def list_saved_queries(caller: AnalystDep, accounts: AccountsDep) -> SavedQueriesPublic:
    """The caller's own saved queries."""
    return SavedQueriesPublic(data=[_public(q) for q in accounts.saved_queries.list(
        caller.actor)])


@router.post("", response_model=SavedQueryPublic, status_code=status.HTTP_201_CREATED,
             responses={409: {"model": ErrorPublic, "description": "too many saved queries"}})
def save_query(caller: AnalystDep, request: Request, accounts: AccountsDep,
               new: SavedQueryCreate) -> SavedQueryPublic:
    """Save a query under a name; a name already used is replaced."""
    try:
        saved = accounts.saved_queries.save(caller.actor, new.name, new.query, new.range)
    except TooManySavedQueries as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    accounts.audit.record(caller.actor, "saved_query.save", new.name, client_ip(request))
    return _public(saved)


@router.delete("/{query_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_saved_query(caller: AnalystDep, request: Request, accounts: AccountsDep,
                       query_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """Delete one of the caller's saved queries. Idempotent: when the caller has none with this
    id (deleted already, or another user's), nothing changes and the answer is the same."""
    if accounts.saved_queries.delete(caller.actor, query_id):
        accounts.audit.record(caller.actor, "saved_query.delete", str(query_id),
                              client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
