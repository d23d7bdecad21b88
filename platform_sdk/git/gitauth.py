"""HTTP Basic (and Bearer) credentials of git clients, resolved to an :class:`Actor`.

Git clients send ``Authorization: Basic base64(user:secret)``. The secret is preferably an API
token (``plat_…``, resolved by :func:`platform_sdk.identity.authn.authenticate`; the user name
must name the token's owner — ``x-token`` style placeholders are refused so a token never
silently acts under another name) or else the user's password, checked with argon2 and counted
against the *same* failure counters as ``/api/auth/login`` (per account and per client
address, on the bus), so Basic auth is no way around the login rate limit. Password checks do
the same argon2 work for unknown users as for known ones. ``Bearer <token>`` is accepted too
(what ``http.extraHeader`` and the LFS client may send).

No ``Authorization`` header means anonymous (``None``); malformed or wrong credentials raise
:class:`Unauthenticated`. These functions are synchronous (database, argon2): the ASGI handler
runs them in a worker thread.
"""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.errors import RateLimited, Unauthenticated
from platform_sdk.identity import authn
from platform_sdk.identity.models import User, UserKind
from platform_sdk.identity.passwords import dummy_hash, verify_password

__all__ = ["actor_from_header", "parse_basic"]

_BAD = "invalid username, token or password"


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(user, secret)`` of a Basic header value, or None if it is not Basic."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed Basic credentials") from None
    user, sep, secret = decoded.partition(":")
    if not sep or not user or not secret:
        raise Unauthenticated("Basic credentials need a user name and a token or password")
    return user, secret


def _password_actor(db: Session, username: str, password: str, client_addr: str | None) -> Actor:
    rt = runtime_of(db)
    limits = [(f"login:fail:user:{username.lower()}", authn.MAX_FAILURES_PER_ACCOUNT)]
    if client_addr:
        limits.append((f"login:fail:addr:{client_addr}", authn.MAX_FAILURES_PER_ADDRESS))
    for key, limit in limits:
        if int(rt.bus.get(key) or b"0") >= limit:
            raise RateLimited(
                "too many failed logins; try again later", retry_after=authn.LOGIN_WINDOW
            )
    user = db.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None and user.is_active else None
    ok = verify_password(stored or dummy_hash(), password)
    if user is None or stored is None or not ok:
        for key, _limit in limits:
            rt.bus.incr(key, ttl=authn.LOGIN_WINDOW)
        audit.record(
            db,
            None,
            "auth.login_failed",
            target_type="user",
            details={"username": username[:64], "client_addr": client_addr, "via": "git"},
        )
        raise Unauthenticated(_BAD)
    rt.bus.delete(limits[0][0])
    return Actor(
        user_id=user.id,
        username=user.username,
        is_agent=user.kind == UserKind.AGENT,
        client_addr=client_addr,
    )


def actor_from_header(db: Session, header: str | None, client_addr: str | None) -> Actor | None:
    """The actor an ``Authorization`` header stands for; None when there is none."""
    if not header or not header.strip():
        return None
    if len(header) > 4096:
        raise Unauthenticated("credentials too long")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return authn.authenticate(db, rest.strip(), client_addr=client_addr)
    basic = parse_basic(header)
    if basic is None:
        raise Unauthenticated("unsupported authorization scheme: use Basic or Bearer")
    username, secret = basic
    if secret.startswith(authn.TOKEN_PREFIX) and not secret.startswith(authn.SESSION_PREFIX):
        actor = authn.authenticate(db, secret, client_addr=client_addr)
        if actor.username.lower() != username.lower():
            raise Unauthenticated(_BAD)
        return actor
    return _password_actor(db, username, secret, client_addr)
