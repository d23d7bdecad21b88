"""API tokens: create (shown once), list, get, revoke.

A token is ``plat_`` + 32 random bytes; only its SHA-256 is stored, with the 8 characters after
the prefix kept to recognise it in lists. ``scopes`` (a subset of the permission catalogue)
and ``project`` (a boundary) narrow what the token may do; ``None`` means no narrowing.

Who may do what:

- every active user creates, lists and revokes its own tokens;
- the owner of an agent does the same for the agent (that is how agents get credentials);
- ``admin:users`` does it for anyone.

A token can never mint a wider token: a request made with a scoped or project-bounded token
creates tokens within the same scopes and boundary (inherited when not given, refused when
wider). Tokens of other users that the actor may not manage are invisible (``NotFound``).
Revoking twice answers ``Conflict`` rather than silently succeeding, so a script learns that its
idea of the token's state was stale. Audit rows carry the token's id and name, never its value.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.types import utcnow
from platform_sdk.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_sdk.identity import rbac
from platform_sdk.identity.authn import TOKEN_PREFIX, hash_token, new_token
from platform_sdk.identity.models import ApiToken, User
from platform_sdk.identity.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut
from platform_sdk.identity.services.users import access_user
from platform_sdk.projects.access import can_read, find_project

__all__ = ["create_token", "get_token", "list_tokens", "revoke_token"]


def _out(token: ApiToken, username: str) -> ApiTokenOut:
    return ApiTokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        user=username,
        scopes=token.scopes,
        project_id=token.project_id,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def _scopes(actor: Actor, wanted: list[str] | None) -> list[str] | None:
    if actor.scopes is None:
        return None if wanted is None else sorted(set(wanted))
    if wanted is None:
        return sorted(actor.scopes)
    wider = sorted(set(wanted) - actor.scopes)
    if wider:
        raise PermissionDenied(
            f"this token cannot create a token with wider scopes: {', '.join(wider)}",
            details={"scopes": wider},
        )
    return sorted(set(wanted))


def _boundary(db: Session, actor: Actor, ref: str | None) -> uuid.UUID | None:
    if ref is None:
        return actor.project_id  # a bounded token mints tokens bounded the same way
    project = find_project(db, ref)
    if project is None or not can_read(db, actor, project):
        raise NotFound(f"project {ref} not found")
    return project.id


def _expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValidationFailed(
            "expires_at: give a timezone (e.g. 2030-01-02T03:04:05Z)",
            details={"field": "expires_at"},
        )
    if expires_at <= utcnow():
        raise ValidationFailed("expires_at: must be in the future", details={"field": "expires_at"})
    return expires_at


def create_token(db: Session, *, actor: Actor, body: ApiTokenCreate) -> ApiTokenCreated:
    """A new token for the actor (or ``body.user``); the raw value is in the result only."""
    owner = access_user(db, actor=actor, username=body.user or actor.username)
    via: uuid.UUID | None = None
    if owner.id != actor.user_id:
        allowed, via = rbac.check(db, actor, Perm.ADMIN_USERS)
        if not allowed and owner.owner_id != actor.user_id:
            raise PermissionDenied(
                f"{actor.username} may not create tokens for {owner.username}",
                details={"permission": Perm.ADMIN_USERS.value},
            )
    if not owner.is_active:
        raise Conflict(f"{owner.username} is deactivated; activate it before creating tokens")
    scopes = _scopes(actor, body.scopes)
    project_id = _boundary(db, actor, body.project)
    expires_at = _expiry(body.expires_at)
    taken = db.scalar(
        select(ApiToken.id).where(
            ApiToken.user_id == owner.id,
            ApiToken.name == body.name,
            ApiToken.revoked_at.is_(None),
        )
    )
    if taken is not None:
        raise AlreadyExists(
            f"{owner.username} already has a token named {body.name!r}",
            details={"field": "name"},
        )
    raw = new_token(TOKEN_PREFIX)
    token = ApiToken(
        user_id=owner.id,
        name=body.name,
        prefix=raw[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 8],
        token_hash=hash_token(raw),
        scopes=scopes,
        project_id=project_id,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    db.add(token)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise AlreadyExists(
            f"{owner.username} already has a token named {body.name!r}",
            details={"field": "name"},
        ) from None
    audit.record(
        db,
        actor,
        "token.create",
        target_type="api_token",
        target_id=token.id,
        project_id=project_id,
        via=via,
        details={
            "name": token.name,
            "user": owner.username,
            "scopes": scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return ApiTokenCreated(**_out(token, owner.username).model_dump(), token=raw)


def list_tokens(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    user: str | None = None,
    include_revoked: bool = False,
) -> Page[ApiTokenOut]:
    """Tokens of the actor (or of ``user``: one's agent, or anyone with admin:users),
    newest first; revoked ones only with ``include_revoked``."""
    owner = access_user(db, actor=actor, username=user or actor.username)
    stmt = select(ApiToken).where(ApiToken.user_id == owner.id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    stmt = stmt.order_by(ApiToken.created_at.desc(), ApiToken.id)
    return paginate(db, stmt, page, lambda t: _out(t, owner.username))


def _access_token(db: Session, actor: Actor, token_id: uuid.UUID | str) -> tuple[ApiToken, str]:
    try:
        tid = token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id))
    except ValueError:
        raise NotFound(f"token {token_id} not found") from None
    token = db.get(ApiToken, tid)
    owner = db.get(User, token.user_id) if token is not None else None
    if token is None or owner is None:
        raise NotFound(f"token {token_id} not found")
    try:
        access_user(db, actor=actor, username=owner.username)
    except NotFound:
        raise NotFound(f"token {token_id} not found") from None
    return token, owner.username


def get_token(db: Session, *, actor: Actor, token_id: uuid.UUID | str) -> ApiTokenOut:
    token, username = _access_token(db, actor, token_id)
    return _out(token, username)


def revoke_token(db: Session, *, actor: Actor, token_id: uuid.UUID | str) -> ApiTokenOut:
    """Revoke a token at once; ``Conflict`` if it already was."""
    token, username = _access_token(db, actor, token_id)
    via: uuid.UUID | None = None
    if token.user_id != actor.user_id:
        allowed, via = rbac.check(db, actor, Perm.ADMIN_USERS)
        if not allowed:  # visible, so the actor owns the agent this token belongs to
            via = None
    if token.revoked_at is not None:
        raise Conflict(f"token {token.name!r} is already revoked")
    token.revoked_at = utcnow()
    db.flush()
    audit.record(
        db,
        actor,
        "token.revoke",
        target_type="api_token",
        target_id=token.id,
        project_id=token.project_id,
        via=via,
        details={"name": token.name, "user": username},
    )
    return _out(token, username)
