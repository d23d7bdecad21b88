"""Everything an agent session did, in time order: ``p.observe.session_timeline(id)``.

:func:`session_timeline` merges four kinds of rows into one table ordered by ``timestamp``:

* ``log`` — the session's log records (``session_id`` equal to the id); ``name`` is the body
  (cut at 200 characters; the whole body is in ``details`` when longer);
* ``span`` — the session's spans; ``name`` is the span name, ``details`` kind, status,
  duration and attributes;
* ``audit`` — what the session's **users** changed on the platform while it ran. The audit
  log has no session column, so this is the audit rows whose actor is a user named by the
  session's telemetry (``user_id``: a user id or a username) or the agent user of the
  ``agent_sessions`` row with this id, written between the session's first and last event
  (the agent session's ``started_at``/``finished_at`` widen that range when known);
* ``pipeline`` — pipeline runs that relate: those whose trace id (a run's id as 32 hex
  digits) appears on the session's telemetry, and those triggered by the session's users in
  that time range.

Columns: ``timestamp, kind, name, service, trace_id, span_id, details`` (JSON text). Audit and
pipeline rows are restricted like the platform tables of :func:`sql`: rows of projects the
actor may ``observe:read``, audit rows of no project only for global readers. A session with
no visible row at all is :class:`NotFound`. At most ``limit`` rows, the earliest first.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from platform_sdk.agents.models import AgentSession
from platform_sdk.core.access import Actor
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.db import release
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.identity.models import User
from platform_sdk.observe.explore_base import Visible, as_utc, relations, visibility, window
from platform_sdk.observe.explore_scan import just_after, matching_span
from platform_sdk.observe.query import run_sql
from platform_sdk.observe.schema import SCHEMAS
from platform_sdk.observe.scope import project_labels
from platform_sdk.pipelines.models import Pipeline

__all__ = ["MAX_TIMELINE_ROWS", "TIMELINE", "session_timeline"]

MAX_TIMELINE_ROWS: Final = 100_000
TIMELINE: Final = pa.schema(
    [pa.field("timestamp", pa.timestamp("us", tz="UTC"))]
    + [pa.field(n, pa.string()) for n in ("kind", "name", "service", "trace_id", "span_id")]
    + [pa.field("details", pa.string())]
)

_TELEMETRY: Final = """
SELECT timestamp, 'log' AS kind, left(body, 200) AS name, service, trace_id, span_id, user_id,
       json_object('severity', severity, 'severity_number', severity_number,
                   'project', project, 'user_id', user_id,
                   'body', CASE WHEN length(body) > 200 THEN body END,
                   'attributes', try_cast(attributes AS JSON))::VARCHAR AS details
FROM logs WHERE session_id = $session
UNION ALL
SELECT timestamp, 'span', name, service, trace_id, span_id, user_id,
       json_object('kind', kind, 'status', status_code, 'status_message', status_message,
                   'duration_ms', duration_ms, 'parent_span_id', parent_span_id,
                   'project', project, 'user_id', user_id,
                   'attributes', try_cast(attributes AS JSON))::VARCHAR
FROM spans WHERE session_id = $session
ORDER BY timestamp, kind
LIMIT $limit
"""


def _agent_session(db: Session, visible: Visible, session_id: str) -> AgentSession | None:
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        return None
    found = db.get(AgentSession, sid)
    if found is None or found.project_id not in visible.seen.project_ids:
        return None
    return found


def _user_ids(db: Session, names: set[str]) -> set[uuid.UUID]:
    """Ids of the users that telemetry ``user_id`` values name (by id or by username)."""
    ids: set[uuid.UUID] = set()
    usernames = set()
    for name in names:
        try:
            ids.add(uuid.UUID(name))
        except ValueError:
            usernames.add(name)
    if usernames:
        ids |= set(db.scalars(select(User.id).where(User.username.in_(usernames))))
    return ids


def _audit_rows(
    db: Session, visible: Visible, users: set[uuid.UUID], lo: datetime, hi: datetime, limit: int
) -> list[dict[str, Any]]:
    """Audit rows of ``users`` in ``[lo, hi]``, restricted like the ``audit_log`` view."""
    if not users:
        return []
    seen = visible.seen
    in_scope: ColumnElement[bool] = AuditLog.project_id.in_(seen.project_ids)
    if seen.global_read:
        in_scope = or_(in_scope, AuditLog.project_id.is_(None))
    stmt = select(AuditLog).where(
        AuditLog.actor_id.in_(users), AuditLog.at >= lo, AuditLog.at <= hi, in_scope
    )
    labels = project_labels(db, set(seen.project_ids))
    return [
        {
            "timestamp": a.at,
            "kind": "audit",
            "name": a.action,
            "details": {
                "actor": a.actor_name,
                "target_type": a.target_type,
                "target_id": a.target_id,
                "project": labels.get(a.project_id) if a.project_id else None,
                "details": a.details,
            },
        }
        for a in db.scalars(stmt.order_by(AuditLog.at).limit(limit))
    ]


def _pipeline_rows(
    db: Session,
    visible: Visible,
    users: set[uuid.UUID],
    traces: set[str],
    lo: datetime,
    hi: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """Runs whose trace is the session's or that ``users`` triggered in ``[lo, hi]``."""
    run_ids = []
    for trace in traces:
        try:
            run_ids.append(uuid.UUID(hex=trace))
        except ValueError:
            continue
    related: list[ColumnElement[bool]] = []
    if users:
        window = (Pipeline.created_at >= lo) & (Pipeline.created_at <= hi)
        related.append(Pipeline.triggered_by_id.in_(users) & window)
    if run_ids:
        related.append(Pipeline.id.in_(run_ids))
    if not related:
        return []
    projects = visible.seen.project_ids
    labels = project_labels(db, set(projects))
    stmt = select(Pipeline).where(Pipeline.project_id.in_(projects), or_(*related))
    out = []
    for r in db.scalars(stmt.order_by(Pipeline.created_at).limit(limit)):
        details = {
            "id": str(r.id),
            "project": labels.get(r.project_id),
            "number": r.number,
            "ref": r.ref,
            "commit_sha": r.commit_sha,
            "status": r.status.value,
            "trigger": r.trigger.value,
            "started_at": r.started_at.isoformat() if r.started_at else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        }
        name = f"pipeline #{r.number} {r.status.value}"
        out.append(
            {
                "timestamp": r.created_at,
                "kind": "pipeline",
                "name": name,
                "trace_id": r.id.hex,
                "details": details,
            }
        )
    return out


def _session_views(
    db: Session, visible: Visible, session_id: str, lo: datetime | None, hi: datetime | None
) -> dict[str, ds.Dataset | pa.Table]:
    """``logs`` and ``spans`` narrowed to the time range of the session's rows in each
    (two-phase read, :mod:`..explore_scan`)."""
    release(db)  # ``visible`` is all it needs from the database: no transaction while DuckDB runs
    out: dict[str, ds.Dataset | pa.Table] = {}
    for name in ("logs", "spans"):
        views = relations(db, visible, since=lo, until=hi, datasets=(name,))
        span = matching_span(
            views, name, "session_id = $session", {"session": session_id}, timeout=visible.timeout
        )
        if span is None:
            out[name] = SCHEMAS[name].empty_table()
        else:
            narrowed = relations(
                db, visible, since=span[0], until=just_after(span[1]), datasets=(name,)
            )
            out[name] = narrowed[name]
    return out


def session_timeline(
    db: Session,
    *,
    actor: Actor,
    session_id: str,
    limit: int = 10_000,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """The session's logs, spans, audit rows and pipeline runs in time order (see the module
    docstring). ``since``/``until`` narrow the telemetry read (by default: all of it)."""
    if not session_id:
        raise ValidationFailed("name the session")
    if not 1 <= limit <= MAX_TIMELINE_ROWS:
        raise ValidationFailed(f"limit must be between 1 and {MAX_TIMELINE_ROWS}, not {limit}")
    lo, hi = window(since, until, default=None)
    visible = visibility(db, actor)
    found = run_sql(
        _TELEMETRY,
        _session_views(db, visible, session_id, lo, hi),
        max_rows=limit,
        timeout=visible.timeout,
        params={"session": session_id, "limit": limit},
    ).table
    agent = _agent_session(db, visible, session_id)
    if found.num_rows == 0 and agent is None:
        raise NotFound(f"no session {session_id!r}")
    names = {str(u) for u in found.column("user_id").to_pylist() if u}
    users = _user_ids(db, names)
    times = [as_utc(t) for t in found.column("timestamp").to_pylist() if t is not None]
    if agent is not None:
        users.add(agent.agent_user_id)
        times += [t for t in (agent.started_at, agent.finished_at, agent.created_at) if t]
    traces = {t for t in found.column("trace_id").to_pylist() if t}
    first, last = min(times), max(times)
    extra = _audit_rows(db, visible, users, first, last, limit)
    extra += _pipeline_rows(db, visible, users, traces, first, last, limit)
    telemetry = found.drop_columns(["user_id"]).cast(TIMELINE)
    for row in extra:
        row["details"] = json.dumps(row["details"], default=str)
    merged = pa.concat_tables([telemetry, pa.Table.from_pylist(extra, schema=TIMELINE)])
    order = pc.sort_indices(  # stable: telemetry before platform rows at equal times
        merged, sort_keys=[("timestamp", "ascending")]
    )
    return merged.take(order).slice(0, limit)
