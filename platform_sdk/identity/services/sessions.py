"""The signed-in actor: who am I (``me``), and ending a login session (``logout``).

Logging in is not a service: there is no actor before it. It lives in
:func:`platform_sdk.identity.authn.login`, which the login route calls directly.

``me`` reports the permissions the actor holds *as it is authenticated*: through a scoped token
only the scopes it holds, and through a project-bounded token the permissions inside that
project (globally such a token holds nothing, which would tell the caller nothing useful).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.core.types import utcnow
from platform_sdk.errors import BadRequest, NotFound
from platform_sdk.identity import rbac
from platform_sdk.identity.authn import SESSION_PREFIX, session_for
from platform_sdk.identity.schemas import MeOut
from platform_sdk.identity.services.users import get_user

__all__ = ["logout", "me"]


def me(db: Session, *, actor: Actor) -> MeOut:
    """The actor's user record, how it is authenticated, and what it may do."""
    return MeOut(
        user=get_user(db, actor=actor, username=actor.username),
        via_token=actor.token_id,
        scopes=sorted(actor.scopes) if actor.scopes is not None else None,
        project_boundary=actor.project_id,
        permissions=sorted(rbac.effective_permissions(db, actor, actor.project_id)),
    )


def logout(db: Session, *, actor: Actor, raw_session: str | None) -> None:
    """Revoke the actor's login session ``raw_session`` (a no-op if it already was)."""
    if not raw_session or not raw_session.startswith(SESSION_PREFIX):
        raise BadRequest(
            "logout ends a login session and this request carries none; "
            "revoke an API token with DELETE /api/tokens/{id}"
        )
    session = session_for(db, raw_session)
    if session is None or session.user_id != actor.user_id:
        raise NotFound("no such session")
    if session.revoked_at is not None:
        return
    session.revoked_at = utcnow()
    db.flush()
    audit.record(db, actor, "auth.logout", target_type="session", target_id=session.id)
