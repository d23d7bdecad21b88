"""OTLP ingest as an actor: decode, check each record's project, append durably, answer.

:func:`ingest` is the whole receive path behind ``POST /v1/{traces,logs,metrics}``:

1. decode the body (protobuf or JSON, gzip, size-capped) into rows — a malformed request is
   refused whole (400) and nothing is stored;
2. resolve the project of every row from its ``platform.project`` resource attribute: an
   ``owner/name``, a project id, or a bare name (unique among the projects the actor may
   write telemetry to, or the name of the project its token is bounded to). The actor needs
   ``observe:write`` on each project named; rows without one take the token's project, else
   need ``observe:write`` globally. An unknown project and one the actor may not read are the
   same 404 (same message, naming only what was sent), a readable one without
   ``observe:write`` is 403 — for the whole request, so nothing of it is stored. Rows are
   rewritten to the canonical ``owner/name``, so queries and row-level security see one
   spelling;
3. end the read transaction (so concurrent requests share one fsync), then append the rows
   to the spool, which returns only once they are on disk — then, and only then, is the
   request acknowledged (429/503 with ``Retry-After`` when the spool is full or
   failing);
4. register new metric series in the ``metric_series`` catalogue, and publish log rows on the
   bus for live tails.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.ratelimit import Rate, hit
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.observe.models import MetricKind, MetricSeries
from platform_sdk.observe.otlp import Decoded, decode_request, encode_response
from platform_sdk.observe.schema import Signal, series_key
from platform_sdk.observe.scope import project_labels
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.projects.access import can_read
from platform_sdk.projects.models import Project

__all__ = ["IngestOut", "ingest"]

TAIL_CHANNEL = "observe.tail.logs"


@dataclass(frozen=True)
class IngestOut:
    body: bytes
    accepted: int
    rejected: int


def _resolve(
    db: Session, actor: Actor, value: str, labels: dict[uuid.UUID, str]
) -> tuple[uuid.UUID, str]:
    text = value.strip()
    by_label = {label: pid for pid, label in labels.items()}
    if text in by_label:
        return by_label[text], text
    try:
        pid = uuid.UUID(text)
    except ValueError:
        pid = None
    if pid is not None and pid in labels:
        return pid, labels[pid]
    if "/" not in text:
        named = [p for p, label in labels.items() if label.split("/", 1)[1] == text]
        if actor.project_id is not None and actor.project_id in named:
            return actor.project_id, labels[actor.project_id]
        writable = [p for p in named if rbac.can(db, actor, Perm.OBSERVE_WRITE, p)]
        if len(writable) == 1:
            return writable[0], labels[writable[0]]
        if len(writable) > 1:
            raise NotFound(
                f"project name {text!r} is ambiguous: use owner/name in platform.project",
                details={"project": text},
            )
    raise _not_found(value)


def _not_found(value: str) -> NotFound:
    text = value.strip()
    return NotFound(f"project {text!r} not found", details={"project": text})


def _projects(db: Session, actor: Actor, table: pa.Table) -> pa.Table:
    """``table`` with its ``project`` column checked and rewritten to ``owner/name``."""
    column = table.column("project")
    given = [v for v in pc.unique(column).to_pylist() if v is not None]
    labels = project_labels(db)
    mapping: dict[str, str] = {}
    for value in given:
        pid, label = _resolve(db, actor, value, labels)
        if not rbac.can(db, actor, Perm.OBSERVE_WRITE, pid):
            project = db.get(Project, pid)
            if project is None or not can_read(db, actor, project):
                # Unreadable answers exactly as missing: no status, name or id gives it away.
                raise _not_found(value)
            raise PermissionDenied(
                f"{actor.username} lacks observe:write in {label}",
                details={"permission": Perm.OBSERVE_WRITE.value, "project": label},
            )
        mapping[value] = label
    if column.null_count:
        if actor.project_id is not None:
            fill = labels.get(actor.project_id)
            if fill is None:
                raise NotFound("the token's project no longer exists")
            column = pc.fill_null(column, pa.scalar(fill, pa.string()))  # type: ignore[arg-type]
        elif not rbac.can(db, actor, Perm.OBSERVE_WRITE, None):
            raise PermissionDenied(
                f"{actor.username} lacks observe:write globally: set the resource attribute "
                "platform.project to a project you may write to",
                details={"permission": Perm.OBSERVE_WRITE.value},
            )
    if any(k != v for k, v in mapping.items()):
        keys = pa.array(list(mapping), pa.string())
        values = pa.array([mapping[k] for k in mapping], pa.string())
        index = pc.index_in(column, value_set=keys)
        column = pc.if_else(pc.is_null(index), column, pc.take(values, index))
    return table.set_column(table.schema.get_field_index("project"), "project", column)


def _rekey_series(table: pa.Table) -> pa.Table:
    """Recompute ``series_key`` after the project was rewritten (once per distinct series)."""
    import json

    names = table.column("name").to_pylist()
    labels = table.column("labels").to_pylist()
    projects = table.column("project").to_pylist()
    cache: dict[tuple[Any, Any, Any], str] = {}
    keys = []
    for name, raw, project in zip(names, labels, projects, strict=True):
        key = (name, raw, project)
        if key not in cache:
            cache[key] = series_key(name or "", json.loads(raw) if raw else {}, project)
        keys.append(cache[key])
    idx = table.schema.get_field_index("series_key")
    return table.set_column(idx, "series_key", pa.array(keys, pa.string()))


def _catalogue(db: Session, table: pa.Table, labels: dict[str, uuid.UUID]) -> None:
    import json

    now = utcnow()
    cols = ["series_key", "name", "kind", "unit", "description", "project", "service", "labels"]
    seen: dict[str, dict[str, Any]] = {}
    for row in table.select(cols).to_pylist():
        seen.setdefault(row["series_key"], row)
    known = set(
        db.scalars(select(MetricSeries.series_key).where(MetricSeries.series_key.in_(seen)))
    )
    if known:
        db.execute(
            update(MetricSeries)
            .where(MetricSeries.series_key.in_(known))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )

    def clean(text: Any, size: int) -> str:
        return str(text or "").replace("\x00", "")[:size]

    for key, row in seen.items():
        if key in known:
            continue
        db.add(
            MetricSeries(
                series_key=key,
                name=clean(row["name"], 255),
                kind=MetricKind(row["kind"]),
                unit=clean(row["unit"], 64),
                description=clean(row["description"], 10_000),
                project_id=labels.get(row["project"]) if row["project"] else None,
                service=clean(row["service"], 255) or None,
                labels=json.loads(clean(row["labels"], 1_000_000) or "{}"),
                first_seen_at=now,
                last_seen_at=now,
            )
        )
    db.flush()


def ingest(
    db: Session,
    *,
    actor: Actor,
    signal: Signal,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
) -> IngestOut:
    """Receive one OTLP export request; see the module docstring."""
    runtime = runtime_of(db)
    hit(
        runtime.bus,
        f"otlp:{actor.token_id or actor.user_id}",
        Rate.parse(runtime.settings.rate_otlp),
        "OTLP requests for this token",
        "PLATFORM_RATE_OTLP",
    )
    decoded: Decoded = decode_request(
        signal,
        body,
        content_type or "",
        content_encoding,
        max_bytes=runtime.settings.otlp_max_bytes,
    )
    table = decoded.table
    if table.num_rows:
        table = _projects(db, actor, table)
        if decoded.dataset == "metrics":
            table = _rekey_series(table)
        # End the read transaction before the fsync: on SQLite it holds the write lock
        # (BEGIN IMMEDIATE), which would make concurrent requests sync one after another
        # instead of sharing one fsync in the spool's group commit.
        db.commit()
        telemetry_of(runtime).spool.append(decoded.dataset, table)
        if decoded.dataset == "metrics":
            by_label = {label: pid for pid, label in project_labels(db).items()}
            _catalogue(db, table, by_label)
        elif decoded.dataset == "logs":
            _publish_tail(runtime, table)
    return IngestOut(
        encode_response(signal, decoded.rejected, decoded.message, content_type),
        table.num_rows,
        decoded.rejected,
    )


def _publish_tail(runtime: Any, table: pa.Table) -> None:
    from platform_sdk.observe.tail import publish_tail

    publish_tail(runtime.bus, table)
