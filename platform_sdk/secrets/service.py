"""Secret services: set, list, get, delete — metadata only — and the audited ``resolve``.

Storage. Every ``set`` adds a row with ``version`` = highest version ever used for that name + 1
(deleted rows count, so a number is never reused and audit rows stay unambiguous), sealed by
:mod:`platform_sdk.secrets.crypto` under the keyring's primary key. The associated data binds
the ciphertext to ``project/name/version/scope``: copying a ciphertext into another row, or
widening a row's scope in the database, makes it fail to decrypt. Only the newest
:data:`~platform_sdk.secrets.schemas.KEEP_VERSIONS` rows of a name are kept. ``delete`` sets
``deleted_at`` on every version: the name is free again and a later ``set`` continues the
numbering.

Authorization. Writing needs ``secret:write`` (globally for a global secret, in the project for
a project secret); listing and metadata need ``secret:read`` or ``secret:write`` there;
``resolve`` — the only way a value leaves — needs ``secret:read`` and writes a
``secret.resolve`` audit row (name, version, scope, project; never the value). A project the
actor cannot see is ``NotFound``; a visible one without the permission is ``PermissionDenied``.

Resolution. A project secret shadows the global secret of the same name; the chosen secret's
scope must be ``all`` or the runtime's scope (``pipeline``, ``agent``, ``deploy``), otherwise it
is as if it were not set — and asking with scope ``all`` (a tool outside any runtime) finds only
secrets whose scope is ``all``. :func:`expand` replaces ``${{ secrets.NAME }}`` placeholders.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.events import emit
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.types import utcnow
from platform_sdk.errors import Conflict, NotFound, ValidationFailed
from platform_sdk.identity import rbac
from platform_sdk.secrets.access import (
    ProjectRef,
    Space,
    aad_for,
    access_space,
    check_name,
    check_scope,
    find_for_resolve,
    in_space,
    latest,
    live_counts,
    missing_message,
    open_row,
    row_aad,
    secret_out,
    usable,
)
from platform_sdk.secrets.crypto import DecryptionFailed, UnknownKey
from platform_sdk.secrets.keyring import CHANNEL, key_store
from platform_sdk.secrets.models import Secret, SecretScope
from platform_sdk.secrets.schemas import (
    KEEP_VERSIONS,
    MAX_VALUE_BYTES,
    NAME_RULE,
    RotationOut,
    SecretOut,
    valid_name,
)

__all__ = [
    "delete_secret",
    "expand",
    "get_secret",
    "list_secrets",
    "resolve",
    "rotate_key",
    "set_secret",
]

PLACEHOLDER = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")
"""``${{ secrets.NAME }}``, any whitespace inside the braces."""

Progress = Callable[[int, int], None]


def set_secret(
    db: Session,
    *,
    actor: Actor,
    name: str,
    value: str,
    project: ProjectRef = None,
    scope: str | SecretScope = SecretScope.ALL,
) -> SecretOut:
    """Store ``value`` as the next version of ``name`` (global when ``project`` is None)."""
    check_name(name)
    chosen = check_scope(scope)
    data = value.encode("utf-8")
    if not data or len(data) > MAX_VALUE_BYTES:
        raise ValidationFailed(
            f"value: must be 1 to {MAX_VALUE_BYTES} bytes (UTF-8)", details={"field": "value"}
        )
    space = access_space(db, actor, project, Perm.SECRET_WRITE)
    for _attempt in range(5):
        top = db.scalar(
            select(func.max(Secret.version)).where(in_space(space.project_id), Secret.name == name)
        )
        version = int(top or 0) + 1
        ring = key_store(db).keyring()
        row = Secret(
            id=uuid.uuid4(),
            project_id=space.project_id,
            name=name,
            scope=chosen,
            version=version,
            key_id=ring.primary.kid,
            ciphertext=ring.encrypt(data, aad_for(space.project_id, name, version, chosen)),
            created_by_id=actor.user_id,
        )
        try:
            with db.begin_nested():
                db.add(row)
                db.flush()
            break
        except IntegrityError:
            continue  # another writer took this version: read the new top and retry
    else:
        raise Conflict(f"secret {name} is being changed concurrently; try again")
    ring = key_store(db).keyring()
    if ring.primary.kid != row.key_id:  # a rotation began meanwhile: seal under its new key
        row.ciphertext = ring.encrypt(data, row_aad(row))
        row.key_id = ring.primary.kid
    old = db.scalars(
        select(Secret.id)
        .where(in_space(space.project_id))
        .where(Secret.name == name)
        .order_by(Secret.version.desc())
        .offset(KEEP_VERSIONS)
    ).all()
    if old:
        db.execute(
            delete(Secret).where(Secret.id.in_(old)),
            execution_options={"synchronize_session": False},
        )
    audit.record(
        db,
        actor,
        "secret.set",
        target_type="secret",
        target_id=row.id,
        project_id=space.project_id,
        via=space.via,
        details={"name": name, "version": version, "scope": chosen.value, "project": space.label},
    )
    db.flush()
    counts = live_counts(db, space.project_id, [name])
    return secret_out(db, row, space.label, counts.get(name, 1))


def list_secrets(
    db: Session, *, actor: Actor, page: PageParams, project: ProjectRef = None
) -> Page[SecretOut]:
    """The live secrets of a project (or the global ones), by name; metadata only."""
    space = access_space(db, actor, project, Perm.SECRET_READ, Perm.SECRET_WRITE)
    live = select(Secret).where(in_space(space.project_id), Secret.deleted_at.is_(None))
    top = (
        select(Secret.name, func.max(Secret.version).label("top"))
        .where(in_space(space.project_id), Secret.deleted_at.is_(None))
        .group_by(Secret.name)
        .subquery()
    )
    stmt = live.join(top, and_(Secret.name == top.c.name, Secret.version == top.c.top)).order_by(
        Secret.name
    )
    result = paginate(db, stmt, page, lambda row: row)
    counts = live_counts(db, space.project_id, [r.name for r in result.items])
    return Page[SecretOut](
        items=[secret_out(db, r, space.label, counts.get(r.name, 1)) for r in result.items],
        page=result.page,
        per_page=result.per_page,
        total=result.total,
        next_page=result.next_page,
    )


def get_secret(db: Session, *, actor: Actor, name: str, project: ProjectRef = None) -> SecretOut:
    """Metadata of the latest live version of ``name``."""
    check_name(name)
    space = access_space(db, actor, project, Perm.SECRET_READ, Perm.SECRET_WRITE)
    row = latest(db, space.project_id, name)
    if row is None:
        raise NotFound(f"secret {name} is not set {space.where}")
    return secret_out(db, row, space.label, live_counts(db, space.project_id, [name]).get(name, 1))


def delete_secret(db: Session, *, actor: Actor, name: str, project: ProjectRef = None) -> None:
    """Soft-delete every version of ``name``; the name is free again afterwards."""
    check_name(name)
    space = access_space(db, actor, project, Perm.SECRET_WRITE)
    row = latest(db, space.project_id, name)
    if row is None:
        raise NotFound(f"secret {name} is not set {space.where}")
    stmt = update(Secret).where(
        in_space(space.project_id), Secret.name == name, Secret.deleted_at.is_(None)
    )
    removed = db.execute(
        stmt.values(deleted_at=utcnow()), execution_options={"synchronize_session": False}
    )
    audit.record(
        db,
        actor,
        "secret.delete",
        target_type="secret",
        target_id=row.id,
        project_id=space.project_id,
        via=space.via,
        details={
            "name": name,
            "versions": getattr(removed, "rowcount", None),
            "project": space.label,
        },
    )
    db.flush()


def _reveal(db: Session, actor: Actor, space: Space, row: Secret, scope: SecretScope) -> str:
    value = open_row(db, row).decode("utf-8")
    audit.record(
        db,
        actor,
        "secret.resolve",
        target_type="secret",
        target_id=row.id,
        project_id=space.project_id,
        via=space.via,
        details={
            "name": row.name,
            "version": row.version,
            "scope": scope.value,
            "project": space.label,
            "source": "global" if row.project_id is None else "project",
        },
    )
    return value


def resolve(
    db: Session,
    *,
    actor: Actor,
    name: str,
    scope: str | SecretScope,
    project: ProjectRef = None,
    version: int | None = None,
) -> str:
    """The value of ``name`` for a runtime of ``scope`` — audited; needs ``secret:read``."""
    check_name(name)
    wanted = check_scope(scope)
    space = access_space(db, actor, project, Perm.SECRET_READ)
    row = find_for_resolve(db, space, name, version)
    if row is None or not usable(row, wanted):
        raise NotFound(missing_message([name], space, wanted, version), details={"name": name})
    value = _reveal(db, actor, space, row, wanted)
    db.flush()
    return value


def expand(
    db: Session, *, actor: Actor, text: str, scope: str | SecretScope, project: ProjectRef = None
) -> str:
    """``text`` with every ``${{ secrets.NAME }}`` replaced by the value ``resolve`` gives.

    Each distinct name is resolved (and audited) once; all missing names are reported together.
    Values are inserted as they are and never expanded again. Text without placeholders comes
    back unchanged, with no checks and no audit rows.
    """
    names = list(dict.fromkeys(PLACEHOLDER.findall(text)))
    if not names:
        return text
    for name in names:
        if not valid_name(name):
            raise ValidationFailed(
                f"${{{{ secrets.{name} }}}}: a secret name {NAME_RULE}", details={"name": name}
            )
    wanted = check_scope(scope)
    space = access_space(db, actor, project, Perm.SECRET_READ)
    rows = {n: find_for_resolve(db, space, n, None) for n in names}
    missing = [n for n, row in rows.items() if not usable(row, wanted)]
    if missing:
        raise NotFound(missing_message(missing, space, wanted, None), details={"missing": missing})
    values = {n: _reveal(db, actor, space, row, wanted) for n, row in rows.items() if row}
    db.flush()
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def rotate_key(db: Session, *, actor: Actor, progress: Progress | None = None) -> RotationOut:
    """Re-encrypt every row (deleted ones too) under the current — in file mode a new — key.

    Rows that fail to authenticate are left as they are and reported in ``damaged``, so their
    key stays; keys no row uses are retired (dropped from the key file after commit).
    ``progress(done, total)`` is called after each batch.
    """
    via = rbac.require(db, actor, Perm.ADMIN_CONFIG)
    store = key_store(db)
    by_key = {
        k: int(n)
        for k, n in db.execute(select(Secret.key_id, func.count()).group_by(Secret.key_id)).all()
    }
    unknown = sorted(k for k in by_key if k not in store.keyring() and k not in store.reload())
    if unknown:
        raise UnknownKey(unknown[0])
    primary = store.new_primary()
    ring = store.keyring()
    ids = db.scalars(select(Secret.id).order_by(Secret.id)).all()
    done, damaged = 0, []
    for start in range(0, len(ids), 200):
        rows = db.scalars(select(Secret).where(Secret.id.in_(ids[start : start + 200]))).all()
        for row in rows:
            try:
                plain = ring.decrypt(row.ciphertext, row_aad(row))
            except DecryptionFailed:
                damaged.append(f"{row.name} v{row.version} ({row.project_id or 'global'})")
                continue
            row.ciphertext = ring.encrypt(plain, row_aad(row))
            row.key_id = primary.kid
        db.flush()
        for row in rows:
            db.expunge(row)
        done += len(rows)
        if progress is not None:
            progress(done, len(ids))
    in_use = set(db.scalars(select(Secret.key_id).distinct()).all())
    out = RotationOut(
        mode=store.mode,
        primary_key_id=primary.kid,
        reencrypted=done - len(damaged),
        by_key=by_key,
        retired_key_ids=store.droppable(in_use),
        damaged=damaged,
    )
    audit.record(
        db,
        actor,
        "secret.rotate_key",
        target_type="keyring",
        target_id=primary.kid,
        via=via,
        details=out.model_dump(mode="json"),
    )
    emit(db, CHANNEL, {"action": "rotated", "primary": primary.kid, "retired": out.retired_key_ids})
    db.flush()
    return out
