"""Users and agents: create, read, list, update, deactivate and reactivate.

Who may do what:

- ``admin:users`` (global) manages everyone: create, read, list, update, (de)activate.
- Every user reads and updates themselves; changing one's own password needs the current one
  (an admin setting someone else's password does not).
- An agent (kind ``agent``) is owned by the user who created it. A holder of ``agent:run`` may
  create agents without ``admin:users`` and, while holding it, update, deactivate and
  reactivate the agents it owns.
- Anyone else is invisible: reading a user one may not see answers ``NotFound``, exactly as a
  missing user does (:func:`access_user`, the ``access_project`` of users).

Design choices:

- Agents have no password: they authenticate with API tokens their owner mints for them, so an
  agent's credential is always named, scoped, expiring and revocable on its own.
- Deactivation revokes every session and token of the user at once (``revoked_at`` is set), not
  only through the ``is_active`` check at authentication: reactivating a user must not bring
  old credentials back to life.
- A password change revokes the user's login sessions (API tokens are separate credentials and
  stay valid).
- Profile changes through a scoped or project-bounded token are refused: such a token stands
  for a narrow job, and a leaked one must not be able to change the account it belongs to.
- The last active holder of the global ``admin`` role cannot be deactivated, so a platform can
  never lock itself out.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
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
from platform_sdk.identity.models import ApiToken, AuthSession, Role, User, UserKind, UserRole
from platform_sdk.identity.passwords import hash_password, verify_password
from platform_sdk.identity.schemas import UserCreate, UserOut, UserUpdate

__all__ = [
    "access_user",
    "activate_user",
    "create_user",
    "deactivate_user",
    "get_user",
    "list_users",
    "update_user",
]

_AGENTS_USE_TOKENS = "password: agents sign in with API tokens their owner creates, not passwords"


def _out(user: User, owner: str | None) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        kind=user.kind,
        is_active=user.is_active,
        owner=owner,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _user_out(db: Session, user: User) -> UserOut:
    owner = None
    if user.owner_id is not None:
        owner = db.scalar(select(User.username).where(User.id == user.owner_id))
    return _out(user, owner)


def access_user(db: Session, *, actor: Actor, username: str) -> User:
    """The user ``username`` if the actor may see it: itself, its agents, or anyone with
    ``admin:users``. ``NotFound`` otherwise, the same as for a missing user."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not (
        user.id == actor.user_id
        or user.owner_id == actor.user_id
        or rbac.can(db, actor, Perm.ADMIN_USERS)
    ):
        raise NotFound(f"user {username} not found")
    return user


def _manage(db: Session, actor: Actor, user: User) -> uuid.UUID | None:
    """Allow changing ``user`` (other than oneself): admin:users, or the owner of an agent
    while holding agent:run. Returns the delegation the permission came through."""
    allowed, via = rbac.check(db, actor, Perm.ADMIN_USERS)
    if allowed:
        return via
    if user.kind == UserKind.AGENT and user.owner_id == actor.user_id:
        allowed, via = rbac.check(db, actor, Perm.AGENT_RUN)
        if allowed:
            return via
        raise PermissionDenied(
            f"{actor.username} lacks agent:run (needed to manage its agents)",
            details={"permission": Perm.AGENT_RUN.value},
        )
    raise PermissionDenied(
        f"{actor.username} lacks admin:users", details={"permission": Perm.ADMIN_USERS.value}
    )


def _ensure_free(db: Session, *, username: str | None, email: str | None) -> None:
    if username is not None and db.scalar(select(User.id).where(User.username == username)):
        raise AlreadyExists(f"user {username} already exists", details={"field": "username"})
    if email is not None and db.scalar(select(User.id).where(User.email == email)):
        raise AlreadyExists(f"e-mail {email} is already in use", details={"field": "email"})


def _flush(db: Session) -> None:
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:  # a concurrent request took the name between check and insert
        raise AlreadyExists("that username or e-mail is already in use") from None


def create_user(db: Session, *, actor: Actor, body: UserCreate) -> UserOut:
    """A new human (needs ``admin:users``) or agent (``admin:users`` or ``agent:run``).

    An agent is owned by its creator and has no password.
    """
    allowed, via = rbac.check(db, actor, Perm.ADMIN_USERS)
    if not allowed:
        if body.kind != UserKind.AGENT:
            raise PermissionDenied(
                f"{actor.username} lacks admin:users (holders of agent:run may create agents)",
                details={"permission": Perm.ADMIN_USERS.value},
            )
        via = rbac.require(db, actor, Perm.AGENT_RUN)
    agent = body.kind == UserKind.AGENT
    if agent and body.password is not None:
        raise ValidationFailed(_AGENTS_USE_TOKENS, details={"field": "password"})
    _ensure_free(db, username=body.username, email=body.email)
    user = User(
        username=body.username,
        email=body.email,
        display_name=body.display_name,
        kind=body.kind,
        is_active=True,
        password_hash=hash_password(body.password) if body.password else None,
        owner_id=actor.user_id if agent else None,
    )
    db.add(user)
    _flush(db)
    audit.record(
        db,
        actor,
        "user.create",
        target_type="user",
        target_id=user.id,
        via=via,
        details={
            "username": user.username,
            "kind": user.kind.value,
            "owner": actor.username if agent else None,
            "email": user.email,
            "has_password": user.password_hash is not None,
        },
    )
    rbac.rbac_changed(db, "user.create")
    return _out(user, actor.username if agent else None)


def get_user(db: Session, *, actor: Actor, username: str) -> UserOut:
    return _user_out(db, access_user(db, actor=actor, username=username))


def list_users(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    kind: UserKind | str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Page[UserOut]:
    """Users by username. Without ``admin:users``: only the actor and the agents it owns.

    ``q`` searches username, display name and e-mail (case-insensitive substring).
    """
    stmt = select(User)
    if not rbac.can(db, actor, Perm.ADMIN_USERS):
        stmt = stmt.where(or_(User.id == actor.user_id, User.owner_id == actor.user_id))
    if kind is not None:
        try:
            stmt = stmt.where(User.kind == UserKind(kind))
        except ValueError:
            raise ValidationFailed(
                f"kind: must be one of {', '.join(k.value for k in UserKind)}",
                details={"field": "kind"},
            ) from None
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if q:
        stmt = stmt.where(
            or_(
                User.username.icontains(q, autoescape=True),
                User.display_name.icontains(q, autoescape=True),
                User.email.icontains(q, autoescape=True),
            )
        )
    result = paginate(db, stmt.order_by(User.username), page, lambda u: u)
    owner_ids = {u.owner_id for u in result.items if u.owner_id is not None}
    owners = dict(db.execute(select(User.id, User.username).where(User.id.in_(owner_ids))).all())
    return Page[UserOut](
        items=[_out(u, owners.get(u.owner_id) if u.owner_id else None) for u in result.items],
        page=result.page,
        per_page=result.per_page,
        total=result.total,
        next_page=result.next_page,
    )


def _revoke_sessions(db: Session, user_id: uuid.UUID) -> int:
    now = utcnow()
    live = db.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    ).all()
    for session in live:
        session.revoked_at = now
    return len(live)


def _revoke_tokens(db: Session, user_id: uuid.UUID) -> int:
    now = utcnow()
    live = db.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in live:
        token.revoked_at = now
    return len(live)


def update_user(db: Session, *, actor: Actor, username: str, body: UserUpdate) -> UserOut:
    """Change e-mail, display name or password. A field given as ``None`` explicitly clears
    e-mail or display name; a missing field is left alone. Changing one's own password needs
    ``current_password`` (unless the account has none yet)."""
    user = access_user(db, actor=actor, username=username)
    via: uuid.UUID | None = None
    own = user.id == actor.user_id
    if own:
        if actor.scopes is not None or actor.project_id is not None:
            raise PermissionDenied(
                "a scoped or project-bounded token cannot change its own account; "
                "use a login session or an unrestricted token"
            )
    else:
        via = _manage(db, actor, user)
    given = body.model_fields_set
    changed: list[str] = []
    if "email" in given and body.email != user.email:
        _ensure_free(db, username=None, email=body.email)
        user.email = body.email
        changed.append("email")
    if "display_name" in given and body.display_name != user.display_name:
        user.display_name = body.display_name
        changed.append("display_name")
    details: dict[str, object] = {}
    if body.password is not None:
        if user.kind == UserKind.AGENT:
            raise ValidationFailed(_AGENTS_USE_TOKENS, details={"field": "password"})
        if own and user.password_hash is not None:
            if not body.current_password:
                raise ValidationFailed(
                    "current_password: required to change your own password",
                    details={"field": "current_password"},
                )
            if not verify_password(user.password_hash, body.current_password):
                raise PermissionDenied("current_password does not match")
        user.password_hash = hash_password(body.password)
        changed.append("password")
        details["sessions_revoked"] = _revoke_sessions(db, user.id)
    if not changed:
        return _user_out(db, user)
    _flush(db)
    audit.record(
        db,
        actor,
        "user.update",
        target_type="user",
        target_id=user.id,
        via=via,
        details={"username": user.username, "changed": changed, **details},
    )
    rbac.rbac_changed(db, "user.update")
    return _user_out(db, user)


def _active_admins_other_than(db: Session, user_id: uuid.UUID) -> int:
    return (
        db.scalar(
            select(func.count(func.distinct(User.id)))
            .join(UserRole, UserRole.user_id == User.id)
            .join(Role, Role.id == UserRole.role_id)
            .where(
                Role.name == "admin",
                UserRole.project_id.is_(None),
                User.is_active,
                User.id != user_id,
            )
        )
        or 0
    )


def _is_global_admin(db: Session, user_id: uuid.UUID) -> bool:
    return (
        db.scalar(
            select(UserRole.id)
            .join(Role, Role.id == UserRole.role_id)
            .where(Role.name == "admin", UserRole.project_id.is_(None), UserRole.user_id == user_id)
            .limit(1)
        )
        is not None
    )


def deactivate_user(db: Session, *, actor: Actor, username: str) -> UserOut:
    """Deactivate a user and revoke all its sessions and tokens at once (idempotent)."""
    user = access_user(db, actor=actor, username=username)
    via = _manage(db, actor, user)
    if not user.is_active:
        return _user_out(db, user)
    if _is_global_admin(db, user.id) and _active_admins_other_than(db, user.id) == 0:
        raise Conflict(
            f"{user.username} is the last active admin; make another user admin "
            "before deactivating this one"
        )
    user.is_active = False
    sessions = _revoke_sessions(db, user.id)
    tokens = _revoke_tokens(db, user.id)
    db.flush()
    audit.record(
        db,
        actor,
        "user.deactivate",
        target_type="user",
        target_id=user.id,
        via=via,
        details={
            "username": user.username,
            "sessions_revoked": sessions,
            "tokens_revoked": tokens,
        },
    )
    rbac.rbac_changed(db, "user.deactivate")
    return _user_out(db, user)


def activate_user(db: Session, *, actor: Actor, username: str) -> UserOut:
    """Reactivate a user (idempotent). Its old sessions and tokens stay revoked."""
    user = access_user(db, actor=actor, username=username)
    via = _manage(db, actor, user)
    if user.is_active:
        return _user_out(db, user)
    user.is_active = True
    db.flush()
    audit.record(
        db,
        actor,
        "user.activate",
        target_type="user",
        target_id=user.id,
        via=via,
        details={"username": user.username},
    )
    rbac.rbac_changed(db, "user.activate")
    return _user_out(db, user)
