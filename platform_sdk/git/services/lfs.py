"""Git LFS objects: the batch decision, verified uploads into the object store, downloads.

Permissions are those of the repository (:func:`.transport.authorize_git`):
downloading needs read access (anonymous for public projects), uploading ``project:write``.
Objects live in the object store under ``lfs/{project_id}/{oid[:2]}/{oid}`` and are listed in
``lfs_objects``; an object is per project, so one project's read access never reaches another
project's objects even when their contents are equal.

An upload arrives as a spooled local file (the handler streams the request body to disk).
:func:`store_object` hashes it, and only when its SHA-256 *and* size match the declared
``oid``/``size`` copies it (in chunks) into the object store and records it; a mismatch is
``ValidationFailed`` (422) and nothing is stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.git.models import LfsObject
from platform_sdk.git.services.transport import authorize_git

__all__ = ["BatchItem", "lfs_batch", "open_object", "store_object"]

OID = re.compile(r"^[0-9a-f]{64}$")
MAX_BATCH = 1000
MAX_OBJECT_SIZE = 1 << 40


@dataclass(frozen=True)
class BatchItem:
    """The batch API's answer for one object: whether it is stored, or why it cannot be."""

    oid: str
    size: int
    stored: bool
    error: tuple[int, str] | None = None


def _lfs_key(project_id: object, oid: str) -> str:
    """Where an object lives in the object store."""
    return f"lfs/{project_id}/{oid[:2]}/{oid}"


def _check(oid: object, size: object) -> tuple[int, str] | None:
    if not isinstance(oid, str) or not OID.match(oid):
        return (422, "oid must be 64 lowercase hex digits (sha256)")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_OBJECT_SIZE:
        return (422, "size must be a non-negative integer")
    return None


def lfs_batch(
    db: Session,
    *,
    actor: Actor | None,
    owner: str,
    name: str,
    operation: Literal["upload", "download"],
    objects: list[dict[str, object]],
) -> list[BatchItem]:
    """Per object: stored already or not (upload), or available (download)."""
    target = authorize_git(db, actor=actor, owner=owner, name=name, write=operation == "upload")
    if len(objects) > MAX_BATCH:
        raise ValidationFailed(f"objects: at most {MAX_BATCH} per batch")
    out = []
    for obj in objects:
        oid, size = obj.get("oid"), obj.get("size")
        problem = _check(oid, size)
        if problem is not None:
            out.append(BatchItem(oid=str(oid)[:64], size=0, stored=False, error=problem))
            continue
        assert isinstance(oid, str)
        assert isinstance(size, int)
        row = db.get(LfsObject, (target.project_id, oid))
        if operation == "download" and row is None:
            out.append(BatchItem(oid, size, False, (404, "object does not exist")))
        elif row is not None and row.size != size:
            out.append(BatchItem(oid, size, True, (422, f"object has size {row.size}")))
        else:
            out.append(BatchItem(oid, size, row is not None))
    return out


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def store_object(
    db: Session,
    *,
    actor: Actor | None,
    owner: str,
    name: str,
    oid: str,
    size: int | None,
    source: Path,
) -> int:
    """Verify the spooled ``source`` against ``oid`` (and ``size`` if known), then store it."""
    target = authorize_git(db, actor=actor, owner=owner, name=name, write=True)
    problem = _check(oid, 0 if size is None else size)
    if problem is not None:
        raise ValidationFailed(problem[1])
    digest, actual = _digest(source)
    if digest != oid:
        raise ValidationFailed(
            f"content does not match oid {oid} (its sha256 is {digest})",
            details={"oid": oid, "actual": digest},
        )
    if size is not None and size != actual:
        raise ValidationFailed(f"content is {actual} bytes, not {size}", details={"oid": oid})
    blobs = runtime_of(db).blobs
    key = _lfs_key(target.project_id, oid)
    with source.open("rb") as f:
        blobs.put(key, f)
    if db.get(LfsObject, (target.project_id, oid)) is None:
        db.add(LfsObject(project_id=target.project_id, oid=oid, size=actual))
        db.flush()
        assert actor is not None  # uploads need project:write, so an authenticated actor
        audit.record(
            db,
            actor,
            "git.lfs_upload",
            target_type="lfs_object",
            target_id=oid,
            project_id=target.project_id,
            details={"size": actual},
        )
    return actual


def open_object(
    db: Session, *, actor: Actor | None, owner: str, name: str, oid: str
) -> tuple[BinaryIO, int]:
    """A readable stream of a stored object and its size (needs read access)."""
    target = authorize_git(db, actor=actor, owner=owner, name=name, write=False)
    row = db.get(LfsObject, (target.project_id, oid)) if OID.match(oid) else None
    if row is None:
        raise NotFound(f"LFS object {oid} not found")
    return runtime_of(db).blobs.open(_lfs_key(target.project_id, oid)), row.size
