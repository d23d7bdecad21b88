"""``/api/auth``: log in (sets the session cookie), log out, and who am I.

The session cookie is ``platform_session``: ``HttpOnly`` (scripts cannot read it),
``SameSite=Strict`` (no cross-site request carries it, which is the CSRF defence) and ``Secure``
when the request came over https; its ``Max-Age`` is the session's absolute lifetime. The idle
timeout is enforced by the server, which is the only place that sees activity.

Login is :func:`platform_sdk.identity.authn.login` (there is no actor before it, so it is not a
service). A failed login raises ``Unauthenticated`` after adding an ``auth.login_failed`` audit
row; ``call`` would roll that row back with the exception, so :func:`_attempt` hands the error
back as a value, lets the transaction commit, and the route raises it afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from platform_sdk.errors import Unauthenticated
from platform_sdk.identity import authn
from platform_sdk.identity.schemas import LoginRequest, MeOut, SessionOut, UserOut
from platform_sdk.identity.services import sessions
from platform_sdk.server.deps import (
    SESSION_COOKIE,
    ActorDep,
    PlatformDep,
    call,
    client_addr,
    credential,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _attempt(db: Any, **kwargs: Any) -> authn.LoginResult | Unauthenticated:
    try:
        return authn.login(db, **kwargs)
    except Unauthenticated as exc:
        return exc


@router.post(
    "/login",
    summary="Log in with a password; sets the session cookie",
    responses={
        401: {"description": "invalid username or password (the same for unknown users)"},
        429: {"description": "too many failed logins; see Retry-After"},
    },
)
def login(
    body: LoginRequest, request: Request, response: Response, plat: PlatformDep
) -> SessionOut:
    result = call(
        plat,
        _attempt,
        username=body.username,
        password=body.password,
        client_addr=client_addr(request),
        user_agent=request.headers.get("user-agent"),
    )
    if isinstance(result, Unauthenticated):
        raise result
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=plat.settings.session_ttl,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        user=UserOut.model_validate(result.user),
        expires_at=result.session.expires_at,
        idle_expires_at=result.session.last_seen_at + timedelta(seconds=plat.settings.session_idle),
    )


@router.post("/logout", status_code=204, summary="End the login session; clears the cookie")
def logout(
    request: Request,
    response: Response,
    actor: ActorDep,
    plat: PlatformDep,
    raw: Annotated[str | None, Depends(credential)],
) -> None:
    candidates = (raw, request.cookies.get(SESSION_COOKIE))
    session = next((c for c in candidates if c and c.startswith(authn.SESSION_PREFIX)), None)
    call(plat, sessions.logout, actor=actor, raw_session=session)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/me", summary="The signed-in user, its credential and effective permissions")
def me(actor: ActorDep, plat: PlatformDep) -> MeOut:
    return call(plat, sessions.me, actor=actor)
