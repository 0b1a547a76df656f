"""``/api/auth``: log in (a session cookie and its CSRF token), log out, who am I."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response, status

from console.api.deps import SESSION_COOKIE, AccountsDep, ViewerDep, client_ip
from console.api.schemas import (
    AUTH_RESPONSES,
    INVALID_RESPONSE,
    ErrorPublic,
    LoginRequest,
    MePublic,
)
from console.auth.accounts import Accounts

router = APIRouter(prefix="/api/auth", tags=["auth"])

BAD_CREDENTIALS = "invalid username or password"


@router.post("/login", response_model=MePublic, responses={
    **INVALID_RESPONSE,
    401: {"model": ErrorPublic, "description": BAD_CREDENTIALS},
    429: {"model": ErrorPublic, "description": "too many failed logins for this username "
                                               "from this address; see Retry-After"}})
def login(credentials: LoginRequest, request: Request, response: Response,
          accounts: AccountsDep) -> MePublic:
    """Check a password; on success set the ``lw_session`` cookie and return the CSRF token."""
    source = client_ip(request)
    _refuse_when_rate_limited(accounts, credentials.username, source)
    user = accounts.users.authenticate(credentials.username, credentials.password)
    if user is None:
        accounts.rate_limit.failed(credentials.username, source)
        accounts.audit.record(credentials.username, "auth.login_failed", source_ip=source)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, BAD_CREDENTIALS)
    accounts.rate_limit.succeeded(user.username, source)
    session = accounts.sessions.create(user.username, user.role)
    accounts.audit.record(user.username, "auth.login", source_ip=source)
    response.set_cookie(SESSION_COOKIE, session.id, max_age=int(accounts.sessions.ttl_s),
                        path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return MePublic(username=user.username, role=user.role, csrf_token=session.csrf_token)


def _refuse_when_rate_limited(accounts: Accounts, username: str, source: str) -> None:
    wait_s = accounts.rate_limit.retry_after(username, source)
    if wait_s > 0:
        accounts.audit.record(username, "auth.login_rate_limited", source_ip=source)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            "too many failed logins: try again later",
                            headers={"Retry-After": str(math.ceil(wait_s))})


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=AUTH_RESPONSES)
def logout(caller: ViewerDep, request: Request, accounts: AccountsDep) -> Response:
    """End the session (a token stays valid: delete it under /api/tokens)."""
    if caller.session_id:
        accounts.sessions.delete(caller.session_id)
        accounts.audit.record(caller.actor, "auth.logout", source_ip=client_ip(request))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=MePublic, responses=AUTH_RESPONSES)
def me(caller: ViewerDep) -> MePublic:
    return MePublic(username=caller.username, role=caller.role, csrf_token=caller.csrf_token)
