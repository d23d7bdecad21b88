"""Platform-owned secrets: values the platform itself generates and reads (webhook signing keys).

These rows live in the ``secrets`` table and are sealed exactly like user secrets
(:mod:`platform_sdk.secrets.service`): the keyring's primary key, associated data
``secret/<project>/<name>/<version>/<scope>``, so key rotation re-encrypts them too. They are
not services — no actor, no RBAC: the caller (a webhook service that already authorized the
change, or the delivery worker) is trusted, and the caller writes the audit row. Names are
``WEBHOOK_<hex id>`` and similar, scope ``all``; each store is a new version of the name, so
rotating a signing key is ``store_system_secret`` again and repointing at the new row.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_sdk.errors import NotFound
from platform_sdk.secrets.access import aad_for, in_space, open_row
from platform_sdk.secrets.keyring import key_store
from platform_sdk.secrets.models import Secret, SecretScope

__all__ = ["read_system_secret", "resolve_for_runtime", "store_system_secret"]


def store_system_secret(db: Session, name: str, value: str, project_id: uuid.UUID | None) -> Secret:
    """Seal ``value`` as the next version of ``name`` (scope ``all``) and return the row."""
    top = db.scalar(
        select(func.max(Secret.version)).where(in_space(project_id), Secret.name == name)
    )
    version = int(top or 0) + 1
    ring = key_store(db).keyring()
    row = Secret(
        id=uuid.uuid4(),
        project_id=project_id,
        name=name,
        scope=SecretScope.ALL,
        version=version,
        key_id=ring.primary.kid,
        ciphertext=ring.encrypt(
            value.encode("utf-8"), aad_for(project_id, name, version, SecretScope.ALL)
        ),
    )
    db.add(row)
    db.flush()
    return row


def read_system_secret(db: Session, secret_id: uuid.UUID) -> str:
    """The plaintext of the secret row ``secret_id`` (``NotFound`` if gone or deleted)."""
    row = db.get(Secret, secret_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"secret {secret_id} not found")
    return open_row(db, row).decode("utf-8")


def resolve_for_runtime(
    db: Session,
    *,
    project_id: uuid.UUID,
    names: list[str],
    scope: SecretScope,
    purpose: dict[str, object],
) -> dict[str, str]:
    """Values of ``names`` for a runtime of ``scope`` working for a project (a pipeline step,
    an agent session): the project's secret, else the global one, usable by ``scope``.

    The platform itself resolves these — the project's definition asked for them and the
    secret's scope admits the runtime — so no actor's ``secret:read`` is involved; each value
    read is audited as ``secret.resolve`` by ``system`` with ``purpose`` in the details.
    Missing names raise :class:`NotFound` naming all of them.
    """
    from platform_sdk.core import audit
    from platform_sdk.secrets.access import Space, find_for_resolve, missing_message, usable

    space = Space(project_id, None, None)
    rows = {n: find_for_resolve(db, space, n, None) for n in dict.fromkeys(names)}
    missing = [n for n, row in rows.items() if not usable(row, scope)]
    if missing:
        raise NotFound(
            missing_message(missing, space, scope, None).replace("globally", "for this project"),
            details={"missing": missing},
        )
    values: dict[str, str] = {}
    for name, row in rows.items():
        assert row is not None
        values[name] = open_row(db, row).decode("utf-8")
        audit.record(
            db,
            None,
            "secret.resolve",
            target_type="secret",
            target_id=row.id,
            project_id=project_id,
            details={"name": name, "version": row.version, "scope": scope.value, **purpose},
        )
    return values
