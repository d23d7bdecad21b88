"""Finding secrets and checking who may touch them: the helpers behind the secret services.

:func:`access_space` is the secrets' ``access_*`` function (Zulip's pattern, like
:func:`~platform_sdk.projects.access.access_project`): it resolves the namespace a call acts
in — one project, or the global secrets — answering ``NotFound`` for a project the actor cannot
see and ``PermissionDenied`` when it can see it but holds none of the permissions asked for.

:func:`aad_for` is the associated data every ciphertext is bound to:
``secret/<project id or global>/<name>/<version>/<scope>``. Because it is authenticated (not
stored), a ciphertext only opens in the row it was written for, and changing a row's scope in
the database makes it unreadable rather than wider.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.errors import PermissionDenied, ValidationFailed
from platform_sdk.identity import rbac
from platform_sdk.identity.models import User
from platform_sdk.projects.access import access_project, project_label
from platform_sdk.secrets.crypto import DecryptionFailed, UnknownKey
from platform_sdk.secrets.keyring import key_store
from platform_sdk.secrets.models import Secret, SecretScope
from platform_sdk.secrets.schemas import NAME_RULE, SecretOut, valid_name

__all__ = [
    "ProjectRef",
    "Space",
    "aad_for",
    "access_space",
    "check_name",
    "check_scope",
    "find_for_resolve",
    "in_space",
    "latest",
    "live_counts",
    "missing_message",
    "open_row",
    "row_aad",
    "secret_out",
    "usable",
]

ProjectRef = str | uuid.UUID | None


@dataclass(frozen=True)
class Space:
    """Where a call acts: one project's secrets, or the global ones."""

    project_id: uuid.UUID | None
    label: str | None
    via: uuid.UUID | None

    @property
    def where(self) -> str:
        return f"for project {self.label}" if self.label else "globally"


def access_space(db: Session, actor: Actor, project: ProjectRef, *perms: Perm) -> Space:
    """Resolve the namespace and check that the actor holds one of ``perms`` there."""
    found = None
    if project is not None:
        found, _ = access_project(db, actor, project)  # NotFound when the actor cannot see it
    pid = found.id if found is not None else None
    for perm in perms:
        allowed, via = rbac.check(db, actor, perm, pid)
        if allowed:
            label = project_label(db, found) if found is not None else None
            return Space(pid, label, via)
    where = f" in {project_label(db, found)}" if found is not None else " globally"
    raise PermissionDenied(
        f"{actor.username} lacks {' or '.join(str(p) for p in perms)}{where}",
        details={"permission": str(perms[0])},
    )


def in_space(project_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The condition selecting the rows of one project, or the global rows."""
    if project_id is None:
        return Secret.project_id.is_(None)
    return Secret.project_id == project_id


def check_name(name: str) -> str:
    if not valid_name(name):
        raise ValidationFailed(f"name: {NAME_RULE}", details={"field": "name"})
    return name


def check_scope(scope: str | SecretScope) -> SecretScope:
    try:
        return SecretScope(scope)
    except ValueError:
        choices = ", ".join(s.value for s in SecretScope)
        raise ValidationFailed(
            f"scope: must be one of {choices}", details={"field": "scope"}
        ) from None


def aad_for(project_id: uuid.UUID | None, name: str, version: int, scope: SecretScope) -> bytes:
    return f"secret/{project_id or 'global'}/{name}/{version}/{scope.value}".encode()


def row_aad(row: Secret) -> bytes:
    return aad_for(row.project_id, row.name, row.version, SecretScope(row.scope))


def latest(
    db: Session, project_id: uuid.UUID | None, name: str, version: int | None = None
) -> Secret | None:
    stmt = select(Secret).where(
        in_space(project_id), Secret.name == name, Secret.deleted_at.is_(None)
    )
    if version is not None:
        stmt = stmt.where(Secret.version == version)
    return db.scalar(stmt.order_by(Secret.version.desc()).limit(1))


def live_counts(db: Session, project_id: uuid.UUID | None, names: Sequence[str]) -> dict[str, int]:
    stmt = select(Secret.name, func.count()).where(
        in_space(project_id), Secret.name.in_(names), Secret.deleted_at.is_(None)
    )
    return {n: int(c) for n, c in db.execute(stmt.group_by(Secret.name)).all()}


def secret_out(db: Session, row: Secret, label: str | None, versions: int) -> SecretOut:
    creator = None
    if row.created_by_id is not None:
        creator = db.scalar(select(User.username).where(User.id == row.created_by_id))
    return SecretOut(
        id=row.id,
        name=row.name,
        project=label,
        scope=row.scope,
        version=row.version,
        versions=versions,
        created_by=creator,
        created_at=row.created_at,
    )


def open_row(db: Session, row: Secret) -> bytes:
    """The plaintext of one row (re-reading the keys once if its key is unknown)."""
    store = key_store(db)
    try:
        try:
            return store.keyring().decrypt(row.ciphertext, row_aad(row))
        except UnknownKey:
            return store.reload().decrypt(row.ciphertext, row_aad(row))
    except DecryptionFailed as exc:
        where = f"project {row.project_id}" if row.project_id else "global"
        raise DecryptionFailed(
            f"secret {row.name} version {row.version} ({where}) cannot be decrypted: {exc.message}",
            details={"name": row.name, "version": row.version, **exc.details},
        ) from None


def find_for_resolve(db: Session, space: Space, name: str, version: int | None) -> Secret | None:
    """The project's secret (shadowing the global one), else the global one."""
    if space.project_id is not None and latest(db, space.project_id, name) is not None:
        return latest(db, space.project_id, name, version)
    return latest(db, None, name, version)


def missing_message(
    names: Sequence[str], space: Space, scope: SecretScope, version: int | None
) -> str:
    what = f"secret {names[0]} is" if len(names) == 1 else f"secrets {', '.join(names)} are"
    at = f" at version {version}" if version is not None else ""
    return f"{what} not set{at} {space.where} (scope {scope.value})"


def usable(row: Secret | None, scope: SecretScope) -> bool:
    return row is not None and row.scope in (SecretScope.ALL, scope)
