"""Authentication: passwords to sessions, and bearer credentials to an :class:`Actor`.

Credentials are random 32-byte strings with a readable prefix — ``plat_`` for API tokens,
``plats_`` for login sessions — and only their SHA-256 is stored, so a database leak yields no
usable credential. Lookups go through the unique hash index and the stored hash is compared
again with :func:`hmac.compare_digest`.

Login answers the same ``Unauthenticated("invalid username or password")`` for an unknown user,
a deactivated one, one without a password and a wrong password, after the same argon2 work
(a dummy hash is verified when there is no real one), so neither the message nor the timing
tells whether an account exists. Failures are counted per account and per client address on
the bus (shared through Valkey across processes); past the limit, login answers 429 with
``Retry-After`` until the window ends, even for the right password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import RateLimited, Unauthenticated
from platform_sdk.identity.models import ApiToken, AuthSession, User, UserKind
from platform_sdk.identity.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)

__all__ = [
    "SESSION_PREFIX",
    "TOKEN_PREFIX",
    "LoginResult",
    "authenticate",
    "hash_token",
    "login",
    "new_token",
]

TOKEN_PREFIX = "plat_"  # noqa: S105 -- a prefix, not a credential
SESSION_PREFIX = "plats_"
LOGIN_WINDOW = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50
TOUCH_EVERY = timedelta(seconds=60)
"""How stale ``last_used_at``/``last_seen_at`` may get before a request writes it."""

_INVALID = "invalid username or password"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _actor(user: User, client_addr: str | None, token: ApiToken | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        is_agent=user.kind == UserKind.AGENT,
        scopes=frozenset(token.scopes) if token is not None and token.scopes is not None else None,
        project_id=token.project_id if token is not None else None,
        token_id=token.id if token is not None else None,
        client_addr=client_addr,
    )


@dataclass(frozen=True)
class LoginResult:
    token: str
    session: AuthSession
    user: User

    def __repr__(self) -> str:  # never print the token
        return f"LoginResult(user={self.user.username!r}, expires_at={self.session.expires_at})"


def _limits(db: Session, username: str, client_addr: str | None) -> list[tuple[str, int]]:
    keys = [(f"login:fail:user:{username.lower()}", MAX_FAILURES_PER_ACCOUNT)]
    if client_addr:
        keys.append((f"login:fail:addr:{client_addr}", MAX_FAILURES_PER_ADDRESS))
    return keys


def login(
    db: Session,
    *,
    username: str,
    password: str,
    client_addr: str | None = None,
    user_agent: str | None = None,
) -> LoginResult:
    """Check a password and open a session; the caller commits."""
    rt = runtime_of(db)
    limits = _limits(db, username, client_addr)
    for key, limit in limits:
        count = int(rt.bus.get(key) or b"0")
        if count >= limit:
            raise RateLimited("too many failed logins; try again later", retry_after=LOGIN_WINDOW)
    user = db.scalar(select(User).where(User.username == username))
    usable = user is not None and user.is_active and user.password_hash is not None
    stored = user.password_hash if usable and user is not None else None
    ok = verify_password(stored or dummy_hash(), password)
    if not (usable and ok) or user is None or user.password_hash is None:
        for key, _limit in limits:
            rt.bus.incr(key, ttl=LOGIN_WINDOW)
        audit.record(
            db,
            None,
            "auth.login_failed",
            target_type="user",
            details={"username": username[:64], "client_addr": client_addr},
        )
        raise Unauthenticated(_INVALID)
    rt.bus.delete(limits[0][0])
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    now = utcnow()
    raw = new_token(SESSION_PREFIX)
    session = AuthSession(
        user_id=user.id,
        token_hash=hash_token(raw),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=rt.settings.session_ttl),
        client_addr=client_addr,
        user_agent=(user_agent or "")[:512] or None,
    )
    db.add(session)
    user.last_login_at = now
    db.flush()
    audit.record(
        db,
        _actor(user, client_addr),
        "auth.login",
        target_type="session",
        target_id=session.id,
    )
    return LoginResult(token=raw, session=session, user=user)


def idle_deadline(db: Session, session: AuthSession) -> datetime:
    return session.last_seen_at + timedelta(seconds=runtime_of(db).settings.session_idle)


def authenticate(db: Session, raw: str, *, client_addr: str | None = None) -> Actor:
    """The actor a bearer credential stands for; ``Unauthenticated`` if it stands for none."""
    now = utcnow()
    digest = hash_token(raw)
    if raw.startswith(TOKEN_PREFIX) and not raw.startswith(SESSION_PREFIX):
        token = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if (
            token is None
            or not hmac.compare_digest(token.token_hash, digest)
            or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
        ):
            raise Unauthenticated("invalid, expired or revoked token")
        user = db.get(User, token.user_id)
        if user is None or not user.is_active:
            raise Unauthenticated("invalid, expired or revoked token")
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            token.last_used_at = now
        return _actor(user, client_addr, token)
    if raw.startswith(SESSION_PREFIX):
        session = db.scalar(select(AuthSession).where(AuthSession.token_hash == digest))
        if (
            session is None
            or not hmac.compare_digest(session.token_hash, digest)
            or session.revoked_at is not None
            or session.expires_at <= now
            or idle_deadline(db, session) <= now
        ):
            raise Unauthenticated("session expired or logged out; log in again")
        user = db.get(User, session.user_id)
        if user is None or not user.is_active:
            raise Unauthenticated("session expired or logged out; log in again")
        if now - session.last_seen_at > TOUCH_EVERY:
            session.last_seen_at = now
        return _actor(user, client_addr)
    raise Unauthenticated("unrecognised credential: expected a plat_ token or a session")


def session_for(db: Session, raw: str) -> AuthSession | None:
    """The session row of a raw session token (for logout)."""
    return db.scalar(select(AuthSession).where(AuthSession.token_hash == hash_token(raw)))
