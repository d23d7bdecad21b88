"""Read-only copies of platform tables for SQL over telemetry, restricted like the telemetry.

``projects``, ``pipelines``, ``pipeline_steps``, ``agent_sessions``, ``deployments`` and
``audit_log`` are read from the relational store as Arrow tables holding only rows of the
projects in scope (``audit_log`` rows of no project only for global readers), so a query can
join "what the platform did" with its telemetry — ``spans`` of a run joined to
``pipelines`` on ``trace_id`` (a run's trace id is its id's 32 hex digits) — without reaching
anything the actor could not read through the API. Each is capped at :data:`MAX_ROWS` newest
rows; ``project`` (``owner/name``) is added where a table has ``project_id``, so joins with
telemetry need no lookup.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from sqlalchemy import Table, desc, or_, select
from sqlalchemy.orm import Session

from platform_sdk.models import metadata

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


def platform_relations(
    db: Session,
    project_ids: frozenset[uuid.UUID],
    labels: dict[uuid.UUID, str],
    *,
    global_read: bool,
    tables: Iterable[str] = TABLES,
) -> dict[str, pa.Table]:
    """The platform tables as Arrow, restricted to ``project_ids``; see the module docstring."""
    out: dict[str, pa.Table] = {}
    ids = list(project_ids)
    for name in tables:
        table = metadata.tables[name]
        cols = table.c
        stmt = select(table)
        if name == "projects":
            stmt = stmt.where(cols.id.in_(ids), cols.deleted_at.is_(None))
        elif name == "pipeline_steps":
            runs = metadata.tables["pipelines"]
            stmt = stmt.where(
                cols.pipeline_id.in_(select(runs.c.id).where(runs.c.project_id.in_(ids)))
            )
        elif name == "audit_log" and global_read:
            stmt = stmt.where(or_(cols.project_id.in_(ids), cols.project_id.is_(None)))
        else:
            stmt = stmt.where(cols.project_id.in_(ids))
        order = cols.created_at if "created_at" in cols else cols.id
        rows = [dict(r._mapping) for r in db.execute(stmt.order_by(desc(order)).limit(MAX_ROWS))]
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
