"""Dependencies of the routes, as ``Annotated`` aliases: ``def route(store: StoreDep)``.

Authentication: ``Authorization: Bearer <token>`` (automation), else the ``lw_session`` cookie of
a login, whose state-changing requests must carry the session's ``X-CSRF-Token``. Routes take the
caller as ``ViewerDep``, ``AnalystDep`` or ``AdminDep``: 401 without valid credentials, 403 when
the caller's role is below the one named.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from console.auth.accounts import Accounts, Principal
from console.auth.roles import Role
from liaowang.config import Settings
from pipelines.store.base import Store, TimeRange

_INTERVAL = re.compile(r"^(\d{1,9})([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


SESSION_COOKIE = "lw_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_bearer = HTTPBearer(auto_error=False, description="an API token: `liaowang tokens create`")
_session = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                        description="set by POST /api/auth/login; changes need X-CSRF-Token")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_id: Annotated[str | None, Depends(_session)],
) -> Principal:
    """The caller: a bearer token wins over a session cookie."""
    accounts = get_accounts(request)
    if bearer is not None:
        return _token_principal(accounts, bearer.credentials)
    if session_id:
        principal = session_principal(accounts, session_id)
        if request.method not in _SAFE_METHODS:
            _check_csrf(request, principal)
        return principal
    raise _unauthorized("not authenticated: log in, or send Authorization: Bearer <token>")


def _token_principal(accounts: Accounts, secret: str) -> Principal:
    token = accounts.tokens.authenticate(secret)
    if token is None:
        raise _unauthorized("unknown or expired API token")
    return Principal(token.name, token.role, token_id=token.id)


def session_principal(accounts: Accounts, session_id: str) -> Principal:
    session = accounts.sessions.get(session_id)
    if session is None:
        raise _unauthorized("the session has expired or ended: log in again")
    return Principal(session.username, session.role, session_id=session.id,
                     csrf_token=session.csrf_token)


def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not (principal.csrf_token and secrets.compare_digest(sent, principal.csrf_token)):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"missing or wrong {CSRF_HEADER} header for a session change")


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency giving the caller when their role allows ``role``'s work."""

    def caller_with_role(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role")
        return principal

    return caller_with_role


def _utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    """The stored timestamp form: UTC, microseconds, ``Z``."""
    return None if moment is None else f"{_utc(moment):%Y-%m-%dT%H:%M:%S.%f}Z"


From = Annotated[datetime | None, Query(alias="from", description="ISO 8601, inclusive")]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601, exclusive")]


def get_time_range(start: From = None, end: To = None) -> TimeRange:
    if start is not None and end is not None and _utc(start) > _utc(end):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`from` is after `to`")
    return TimeRange(_iso(start), _iso(end))


def parse_interval(text: str) -> int | None:
    """Seconds in a bucket width like ``300``, ``30s``, ``5m``, ``1h``, ``1d``; None if invalid.

    >>> parse_interval("5m"), parse_interval("90"), parse_interval("0s"), parse_interval("soon")
    (300, 90, None, None)
    """
    match = _INTERVAL.match(text.strip())
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]] if match else 0
    return seconds or None


def get_interval(
    interval: Annotated[str, Query(description="bucket width: seconds, or 30s, 5m, 1h, 1d")] = "60",
    interval_s: Annotated[int | None, Query(ge=1, le=10**9,
                                            description="bucket width in seconds; "
                                                        "wins over `interval`")] = None,
) -> int:
    if interval_s is not None:
        return interval_s
    seconds = parse_interval(interval)
    if seconds is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "`interval` must be a positive number of seconds, or like 30s, 5m, 1h")
    return seconds


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TimeRangeDep = Annotated[TimeRange, Depends(get_time_range)]
IntervalDep = Annotated[int, Depends(get_interval)]
QueryDep = Annotated[str, Query(max_length=4096, description="Lucene query string; empty: all")]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
require_viewer, require_analyst, require_admin = (
    require(Role.viewer), require(Role.analyst), require(Role.admin))
ViewerDep = Annotated[Principal, Depends(require_viewer)]
AnalystDep = Annotated[Principal, Depends(require_analyst)]
AdminDep = Annotated[Principal, Depends(require_admin)]
require_sensor = require(Role.sensor)
SensorDep = Annotated[Principal, Depends(require_sensor)]
