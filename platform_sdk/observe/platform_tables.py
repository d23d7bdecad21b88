"""Read-only copies of platform tables for SQL over telemetry, each filtered by its REST rule.

``projects``, ``pipelines``, ``pipeline_steps``, ``agent_sessions``, ``deployments`` and
``audit_log`` are read from the relational store as Arrow tables holding exactly the rows the
actor could read through the API — the same rule as the table's REST listing, not the
telemetry's ``observe:read``:

- ``projects``, ``pipelines``, ``pipeline_steps``, ``agent_sessions``: the projects the actor
  may read (``GET /api/projects``: public ones, internal ones to signed-in users, private ones
  with ``project:read``; a project-bound token sees its project only);
- ``deployments``: those of them where the actor holds ``deploy:read``;
- ``audit_log``: every row with ``admin:config`` held globally (``GET /api/audit``), none
  otherwise.

So a query can join "what the platform did" with its telemetry — ``spans`` of a run joined
to ``pipelines`` on ``trace_id`` (a run's trace id is its id's 32 hex digits) — without
reaching anything the actor could not read through the API. Each is capped at
:data:`MAX_ROWS` newest rows; ``project`` (``owner/name``) is added where a table has
``project_id``, so joins with telemetry need no lookup.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from sqlalchemy import Table, desc, false, select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.identity import rbac
from platform_sdk.models import metadata
from platform_sdk.observe.scope import project_labels
from platform_sdk.projects.access import can_read
from platform_sdk.projects.models import Project

__all__ = ["MAX_ROWS", "TABLES", "platform_relations"]

TABLES = ("projects", "pipelines", "pipeline_steps", "agent_sessions", "deployments", "audit_log")
MAX_ROWS = 100_000
_HIDDEN = {"ciphertext", "password_hash", "token_hash", "secret_id"}


def _arrow(rows: list[dict[str, Any]], table: Table, extra: Iterable[str]) -> pa.Table:
    names = [c.name for c in table.columns if c.name not in _HIDDEN] + list(extra)
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for row in rows:
        for n in names:
            value = row.get(n)
            if isinstance(value, uuid.UUID):
                value = str(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, (dict, list)):
                value = json.dumps(value, default=str)
            columns[n].append(value)
    arrays = {}
    for n, values in columns.items():
        try:
            arrays[n] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[n] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays) if arrays else pa.table({})


def readable_projects(db: Session, actor: Actor) -> set[uuid.UUID]:
    """Live projects ``actor`` may read: what ``GET /api/projects`` lists to it."""
    live = db.scalars(select(Project).where(Project.deleted_at.is_(None)))
    return {p.id for p in live if can_read(db, actor, p)}


def platform_relations(
    db: Session, actor: Actor, *, tables: Iterable[str] = TABLES
) -> dict[str, pa.Table]:
    """The platform tables as Arrow, each holding what its REST rule lets ``actor`` read."""
    readable = readable_projects(db, actor)
    labels = project_labels(db, readable)
    audit_all = actor.project_id is None and rbac.can(db, actor, Perm.ADMIN_CONFIG, None)
    out: dict[str, pa.Table] = {}
    for name in tables:
        table = metadata.tables[name]
        cols = table.c
        stmt = select(table)
        if name == "projects":
            stmt = stmt.where(cols.id.in_(readable), cols.deleted_at.is_(None))
        elif name == "pipeline_steps":
            runs = metadata.tables["pipelines"]
            stmt = stmt.where(
                cols.pipeline_id.in_(select(runs.c.id).where(runs.c.project_id.in_(readable)))
            )
        elif name == "deployments":
            ids = [p for p in readable if rbac.can(db, actor, Perm.DEPLOY_READ, p)]
            stmt = stmt.where(cols.project_id.in_(ids))
        elif name == "audit_log":
            if not audit_all:
                stmt = stmt.where(false())
        else:
            stmt = stmt.where(cols.project_id.in_(readable))
        order = cols.created_at if "created_at" in cols else cols.id
        rows = [dict(r._mapping) for r in db.execute(stmt.order_by(desc(order)).limit(MAX_ROWS))]
        if name == "audit_log" and audit_all:
            labels.update(project_labels(db, {r["project_id"] for r in rows} - labels.keys()))
        extra: list[str] = []
        if name == "projects":
            for row in rows:
                row["full_name"] = labels.get(row["id"])
            extra = ["full_name"]
        elif "project_id" in cols:
            for row in rows:
                row["project"] = labels.get(row["project_id"])
            extra = ["project"]
        if name == "pipelines":
            for row in rows:
                row["trace_id"] = row["id"].hex
            extra.append("trace_id")
        out[name] = _arrow(rows, table, extra)
    return out
