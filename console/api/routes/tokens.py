"""``/api/tokens``: API tokens for automation and sensors (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from console.api.deps import AccountsDep, AdminDep, client_ip
from console.api.schemas import (
    AUTH_RESPONSES,
    ErrorPublic,
    TokenCreate,
    TokenCreatedPublic,
    TokenPublic,
    TokensPublic,
)
from console.auth.tokens import Token

router = APIRouter(prefix="/api/tokens", tags=["tokens"], responses=AUTH_RESPONSES)


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _fields(token: Token) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "role": token.role,
            "created_by": token.created_by, "created_at": _time(token.created_at),
            "expires_at": _time(token.expires_at), "last_used_at": _time(token.last_used_at)}


@router.get("", response_model=TokensPublic)
def list_tokens(_: AdminDep, accounts: AccountsDep) -> TokensPublic:
    """Every token, without its secret."""
    return TokensPublic(data=[TokenPublic(**_fields(t)) for t in accounts.tokens.list()])


@router.post("", response_model=TokenCreatedPublic, status_code=status.HTTP_201_CREATED)
def create_token(caller: AdminDep, request: Request, accounts: AccountsDep,
                 new: TokenCreate) -> TokenCreatedPublic:
    """A new token; ``token`` is its secret, shown this once."""
    token, secret = accounts.tokens.create(new.name, new.role, caller.actor, new.expires_days)
    accounts.audit.record(caller.actor, "token.create", token.id, client_ip(request),
                          f"name={token.name} role={token.role}")
    return TokenCreatedPublic(**_fields(token), token=secret)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"model": ErrorPublic}})
def delete_token(caller: AdminDep, request: Request, accounts: AccountsDep,
                 token_id: str) -> Response:
    """Revoke a token at once."""
    if not accounts.tokens.delete(token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no token with this id")
    accounts.audit.record(caller.actor, "token.delete", token_id, client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
