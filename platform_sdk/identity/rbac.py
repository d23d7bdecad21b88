"""Authorization: who holds which permission where, resolved once and cached.

Effective permissions of an actor for a project are

    global roles + that project's roles + active delegations (global or for that project)

then narrowed by the actor's API token: its scopes (a subset of permissions) and its project
boundary (a bounded token can act only inside its project). A deactivated user holds nothing.

Resolution reads the bindings and delegations of one user once and caches them per process
(:class:`PermissionCache`), so a cached check is a few set lookups. Every change to roles,
bindings, delegations or users emits ``identity.rbac`` after commit: this process drops its
cache synchronously before the committing call returns, other processes drop theirs when the
event reaches them over the bus (Valkey), and entries also expire after ``ttl`` seconds as a
safety net. Delegation expiry is checked at each call, so an expired delegation stops working
at once without any event.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.events import emit
from platform_sdk.core.runtime import Runtime, runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import PermissionDenied
from platform_sdk.identity.models import Delegation, RolePermission, User, UserRole

__all__ = [
    "CHANNEL",
    "PermissionCache",
    "UserGrants",
    "can",
    "effective_permissions",
    "held_without_delegation",
    "permission_cache",
    "rbac_changed",
    "readable_projects",
    "require",
]

log = logging.getLogger(__name__)

CHANNEL = "identity.rbac"


@dataclass(frozen=True)
class DelegatedGrant:
    permission: str
    project_id: uuid.UUID | None
    expires_at: datetime | None
    delegation_id: uuid.UUID

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class UserGrants:
    """Everything one user holds, as loaded from the database at ``loaded_at``."""

    user_id: uuid.UUID
    active: bool
    global_perms: frozenset[str]
    project_perms: Mapping[uuid.UUID, frozenset[str]]
    delegated: tuple[DelegatedGrant, ...]
    loaded_at: float

    def own(self, perm: str, project_id: uuid.UUID | None) -> bool:
        """Held through the user's own role bindings (not by delegation)."""
        if not self.active:
            return False
        if perm in self.global_perms:
            return True
        return project_id is not None and perm in self.project_perms.get(project_id, ())

    def delegation_for(
        self, perm: str, project_id: uuid.UUID | None, now: datetime
    ) -> uuid.UUID | None:
        if not self.active:
            return None
        for grant in self.delegated:
            if (
                grant.permission == perm
                and (grant.project_id is None or grant.project_id == project_id)
                and grant.active(now)
            ):
                return grant.delegation_id
        return None

    def permissions(self, project_id: uuid.UUID | None, now: datetime) -> set[str]:
        if not self.active:
            return set()
        out = set(self.global_perms)
        if project_id is not None:
            out |= self.project_perms.get(project_id, frozenset())
        out |= {
            g.permission
            for g in self.delegated
            if (g.project_id is None or g.project_id == project_id) and g.active(now)
        }
        return out


def load_grants(db: Session, user_id: uuid.UUID) -> UserGrants:
    """Read one user's bindings and unrevoked delegations (two queries)."""
    user_active = db.scalar(select(User.is_active).where(User.id == user_id))
    rows = db.execute(
        select(UserRole.project_id, RolePermission.permission)
        .join(RolePermission, RolePermission.role_id == UserRole.role_id)
        .where(UserRole.user_id == user_id)
    ).all()
    global_perms: set[str] = set()
    project_perms: dict[uuid.UUID, set[str]] = {}
    for project_id, perm in rows:
        if project_id is None:
            global_perms.add(perm)
        else:
            project_perms.setdefault(project_id, set()).add(perm)
    delegations = db.execute(
        select(
            Delegation.permission,
            Delegation.project_id,
            Delegation.expires_at,
            Delegation.id,
            Delegation.grantor_id,
        )
        .join(User, User.id == Delegation.grantor_id)
        .where(
            Delegation.grantee_id == user_id,
            Delegation.revoked_at.is_(None),
            User.is_active,
        )
    ).all()
    return UserGrants(
        user_id=user_id,
        active=bool(user_active),
        global_perms=frozenset(global_perms),
        project_perms={k: frozenset(v) for k, v in project_perms.items()},
        delegated=tuple(
            DelegatedGrant(perm, proj, exp, did) for perm, proj, exp, did, _ in delegations
        ),
        loaded_at=time.monotonic(),
    )


class PermissionCache:
    """Per-process cache of :class:`UserGrants`, dropped on every ``identity.rbac`` event.

    Changes made in this process drop it synchronously (a runtime listener). Changes made by
    other processes arrive over the bus when it is shared (Valkey). With the in-process bus
    (embedded mode) other processes — ``platform serve`` next to the CLI or a notebook, or a
    second ``Platform`` over the same data dir — share only the data dir, so every change also
    replaces a stamp file there, and each check compares the stamp's identity (one ``stat``,
    about a microsecond) before trusting the cache.
    """

    STAMP = ".rbac-generation"

    def __init__(self, runtime: Runtime, *, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: dict[uuid.UUID, UserGrants] = {}
        self._lock = threading.Lock()
        self._generation = 0
        runtime.on(CHANNEL, self._on_event)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stamp: Path | None = None
        self._seen: tuple[int, int] | None = None
        if runtime.bus.backend == "in-process":
            self._stamp = runtime.settings.data_dir / self.STAMP
            self._seen = self._stamp_identity()
        else:
            # Other processes' changes arrive over the shared bus.
            self._sub = runtime.bus.subscribe(CHANNEL)
            self._thread = threading.Thread(
                target=self._listen, name="rbac-invalidation", daemon=True
            )
            self._thread.start()

    def _stamp_identity(self) -> tuple[int, int] | None:
        assert self._stamp is not None
        try:
            st = os.stat(self._stamp)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _bump_stamp(self) -> None:
        """Replace the stamp file (a new inode), telling other processes to drop their cache."""
        assert self._stamp is not None
        try:
            self._stamp.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._stamp.with_name(f"{self.STAMP}.{uuid.uuid4().hex}")
            tmp.write_text(uuid.uuid4().hex)
            os.replace(tmp, self._stamp)
        except OSError:
            log.warning("could not update %s; other processes keep their cache", self._stamp)
        self._seen = self._stamp_identity()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._sub.get(timeout=0.5)
            except Exception:  # the bus is down: entries still expire after ttl
                log.warning("rbac invalidation feed unavailable", exc_info=True)
                self._stop.wait(1.0)
                continue
            if message is not None:
                self.invalidate()

    def _on_event(self, _payload: dict[str, object]) -> None:
        self.invalidate()
        if self._stamp is not None:
            self._bump_stamp()

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def grants(self, db: Session, user_id: uuid.UUID) -> UserGrants:
        if self._stamp is not None:
            seen = self._stamp_identity()
            if seen != self._seen:  # another process changed grants in this data dir
                self._seen = seen
                self.invalidate()
        entry = self._entries.get(user_id)
        if entry is not None and time.monotonic() - entry.loaded_at < self.ttl:
            return entry
        with self._lock:
            generation = self._generation
        entry = load_grants(db, user_id)
        with self._lock:
            if generation == self._generation:  # no change committed while we read
                self._entries[user_id] = entry
        return entry

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._sub.close()
            self._thread.join(timeout=2)


def permission_cache(db: Session) -> PermissionCache:
    return runtime_of(db).extension("rbac", PermissionCache)


def _narrowed(actor: Actor, perm: str, project_id: uuid.UUID | None) -> bool:
    """False when the actor's token does not reach this permission or project."""
    if actor.scopes is not None and perm not in actor.scopes:
        return False
    return actor.project_id is None or actor.project_id == project_id


def check(
    db: Session, actor: Actor, perm: Perm | str, project_id: uuid.UUID | None = None
) -> tuple[bool, uuid.UUID | None]:
    """(allowed, delegation id when the permission came from a delegation)."""
    name = str(perm)
    if not _narrowed(actor, name, project_id):
        return False, None
    grants = permission_cache(db).grants(db, actor.user_id)
    if grants.own(name, project_id):
        return True, None
    via = grants.delegation_for(name, project_id, utcnow())
    return via is not None, via


def can(db: Session, actor: Actor, perm: Perm | str, project_id: uuid.UUID | None = None) -> bool:
    return check(db, actor, perm, project_id)[0]


def require(
    db: Session, actor: Actor, perm: Perm | str, project_id: uuid.UUID | None = None
) -> uuid.UUID | None:
    """Return the delegation id (or None for own roles); ``PermissionDenied`` if not held."""
    allowed, via = check(db, actor, perm, project_id)
    if not allowed:
        where = "" if project_id is None else " in this project"
        raise PermissionDenied(
            f"{actor.username} lacks {perm}{where}",
            details={"permission": str(perm)},
        )
    return via


def held_without_delegation(
    db: Session, actor: Actor, perm: Perm | str, project_id: uuid.UUID | None = None
) -> bool:
    """Held through the actor's own roles (and reachable by its token): what may be delegated."""
    name = str(perm)
    if not _narrowed(actor, name, project_id):
        return False
    return permission_cache(db).grants(db, actor.user_id).own(name, project_id)


def effective_permissions(
    db: Session, actor: Actor, project_id: uuid.UUID | None = None
) -> set[str]:
    """Every permission the actor holds here, after token narrowing."""
    grants = permission_cache(db).grants(db, actor.user_id)
    return {p for p in grants.permissions(project_id, utcnow()) if _narrowed(actor, p, project_id)}


def readable_projects(db: Session, actor: Actor) -> set[uuid.UUID]:
    """Projects where the actor holds ``project:read`` by a project binding or delegation."""
    grants = permission_cache(db).grants(db, actor.user_id)
    now = utcnow()
    out = {pid for pid, perms in grants.project_perms.items() if Perm.PROJECT_READ.value in perms}
    out |= {
        g.project_id
        for g in grants.delegated
        if g.project_id is not None and g.permission == Perm.PROJECT_READ.value and g.active(now)
    }
    return (
        {pid for pid in out if _narrowed(actor, Perm.PROJECT_READ.value, pid)}
        if grants.active
        else set()
    )


def rbac_changed(db: Session, reason: str) -> None:
    """Announce (after commit) that roles, bindings, delegations or users changed."""
    emit(db, CHANNEL, {"reason": reason})
