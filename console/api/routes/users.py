"""``/api/users``: local accounts (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response, status

from console.api.deps import AccountsDep, AdminDep, client_ip
from console.api.schemas import AUTH_RESPONSES, ErrorPublic, UserCreate, UserPublic, UsersPublic
from console.auth.users import AccountConflict, User

router = APIRouter(prefix="/api/users", tags=["users"], responses=AUTH_RESPONSES)


def _public(user: User) -> UserPublic:
    return UserPublic(username=user.username, role=user.role,
                      created_at=datetime.fromtimestamp(user.created_at, UTC))


@router.get("", response_model=UsersPublic)
def list_users(_: AdminDep, accounts: AccountsDep) -> UsersPublic:
    return UsersPublic(data=[_public(user) for user in accounts.users.list()])


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED,
             responses={409: {"model": ErrorPublic, "description": "the name is taken"}})
def create_user(caller: AdminDep, request: Request, accounts: AccountsDep,
                new: UserCreate) -> UserPublic:
    try:
        user = accounts.users.add(new.username, new.password, new.role)
    except AccountConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    accounts.audit.record(caller.actor, "user.create", user.username, client_ip(request),
                          f"role={user.role}")
    return _public(user)


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT, responses={
    404: {"model": ErrorPublic},
    409: {"model": ErrorPublic, "description": "the last admin cannot be removed"}})
def delete_user(caller: AdminDep, request: Request, accounts: AccountsDep,
                username: str) -> Response:
    """Remove a user; their sessions end at once."""
    try:
        removed = accounts.users.delete(username)
    except AccountConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no user with this name")
    accounts.audit.record(caller.actor, "user.delete", username, client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
