"""What routes depend on: the platform, the authenticated actor, paging — and ``call``.

Routes stay thin: parse, ``call`` one service function, return its schema. ``call`` opens a
session, runs the service with the actor, and commits before the response is built, so a
response is only ever sent for a committed change.

Credentials: ``Authorization: Bearer <plat_… token or session>`` or the ``platform_session``
cookie set by login. Both are declared as security schemes, so ``/openapi.json`` documents
them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, PageParams
from platform_sdk.errors import Unauthenticated
from platform_sdk.identity import authn
from platform_sdk.sdk import Platform

__all__ = [
    "DB_INT_MAX",
    "SESSION_COOKIE",
    "ActorDep",
    "Number",
    "PageDep",
    "PlatformDep",
    "call",
    "client_addr",
    "current_actor",
    "get_platform",
]

T = TypeVar("T")

SESSION_COOKIE = "platform_session"

_bearer = HTTPBearer(auto_error=False, description="A plat_… API token or a login session")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Set by /api/auth/login")


def get_platform(request: Request) -> Platform:
    plat = request.app.state.platform
    assert isinstance(plat, Platform)
    return plat


PlatformDep = Annotated[Platform, Depends(get_platform)]


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def credential(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return cookie or None


def current_actor(
    request: Request,
    plat: PlatformDep,
    raw: Annotated[str | None, Depends(credential)],
) -> Actor:
    if not raw:
        raise Unauthenticated("authentication required: send a Bearer token or log in")
    if len(raw) > 256:
        raise Unauthenticated("unrecognised credential")
    with plat.session() as db:
        return authn.authenticate(db, raw, client_addr=client_addr(request))


ActorDep = Annotated[Actor, Depends(current_actor)]


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page")
    ] = DEFAULT_PER_PAGE,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)


PageDep = Annotated[PageParams, Depends(page_params)]

DB_INT_MAX = 2**31 - 1
"""The largest value of the databases' INTEGER columns (numbers, attempts)."""

Number = Annotated[
    int,
    Path(ge=1, le=DB_INT_MAX, description="The number within the project, from 1"),
]
"""An issue, merge request or run number in a path: below 1 or past the column's range it is
a 422 naming the bound, never a database error (PostgreSQL's INTEGER overflows at 2^31,
SQLite's driver at 2^63)."""


def call(plat: Platform, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run one service function in its own committed transaction."""
    with plat.session() as db:
        return fn(db, **kwargs)
