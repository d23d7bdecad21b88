"""Typed telemetry queries as an actor: log search and traces.

These are the helpers behind ``p.observe.logs(…)``, ``p.observe.trace(id)``,
``GET /api/observe/logs`` and ``/traces/{id}``. Each one is a fixed SQL statement run by the
sandbox of :func:`~platform_sdk.observe.query.run_sql` over the views the actor may read
(:func:`~platform_sdk.observe.explore_base.visible_relations`) — the same rows, the same
limits as :func:`~platform_sdk.observe.services.query.sql` — with every value bound as a
parameter. Metrics are in :mod:`.explore_metrics`, session timelines in
:mod:`.explore_session`.

**Log search** (:func:`search_logs`) answers the newest records first, in the window
``[since, until)`` (by default the last hour). Paging is by key: pass the ``timestamp`` of the
last row of a page as ``before`` to get the next one. So that no record is skipped when
several share that timestamp, a full page also carries every further record with the same
timestamp as its last row (a page can then be slightly longer than ``limit``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pyarrow as pa
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.explore_base import (
    LEVEL_SQL,
    as_utc,
    check_trace_id,
    level_floor,
    level_names,
    like_pattern,
    relations,
    visibility,
    visible_relations,
    window,
)
from platform_sdk.observe.query import run_sql
from platform_sdk.observe.trace import TraceOut, build_trace

__all__ = ["MAX_LIMIT", "MAX_TRACE_SPANS", "get_trace", "search_logs"]

MAX_LIMIT = 10_000
"""The most log records one page of :func:`search_logs` returns (ties aside)."""
MAX_TRACE_SPANS = 10_000
"""The most spans (and, separately, logs) :func:`get_trace` reads of one trace."""
_TRACE_LOG_MARGIN = timedelta(hours=1)


def search_logs(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID | None = None,
    session: str | None = None,
    trace: str | None = None,
    level: str | None = None,
    q: str | None = None,
    service: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> pa.Table:
    """Log records matching every filter given, newest first (see the module docstring).

    ``level`` is a minimum (``warn`` keeps warn, error and fatal); ``q`` a case-insensitive
    substring of the body, taken literally (``%`` and ``_`` are not wildcards); ``project`` an
    ``owner/name`` label or a project id the actor may read (else NotFound).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    lo, hi = window(since, until)
    visible, relations = visible_relations(
        db, actor, project=project, since=lo, until=hi, datasets=("logs",)
    )
    where: list[str] = []
    params: dict[str, object] = {"limit": limit}
    if session is not None:
        where.append("session_id = $session")
        params["session"] = session
    if trace is not None:
        where.append("trace_id = $trace")
        params["trace"] = check_trace_id(trace)
    if service is not None:
        where.append("service = $service")
        params["service"] = service
    if level is not None:
        floor = level_floor(level)
        where.append(LEVEL_SQL)
        params.update(level_floor=floor, level_names=level_names(floor))
    if q:
        where.append("body ILIKE $pattern ESCAPE '\\'")
        params["pattern"] = like_pattern(q)
    if before is not None:
        where.append("timestamp < $before")
        params["before"] = as_utc(before)
    condition = " AND ".join(where) or "true"
    query = f"""
        WITH found AS (SELECT * EXCLUDE (date, hour) FROM logs WHERE {condition}),
        cut AS (
            SELECT min(timestamp) AS oldest
            FROM (SELECT timestamp FROM found ORDER BY timestamp DESC LIMIT $limit)
        )
        SELECT found.* FROM found, cut
        WHERE found.timestamp >= cut.oldest
        ORDER BY found.timestamp DESC
    """  # noqa: S608 - the condition is made of fixed fragments; values are parameters
    result = run_sql(
        query, relations, max_rows=visible.max_rows, timeout=visible.timeout, params=params
    )
    return result.table


def get_trace(
    db: Session,
    *,
    actor: Actor,
    trace_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> TraceOut:
    """The trace's visible spans as a tree with waterfall data, and its logs.

    NotFound when the actor sees no span of it. ``since``/``until``, when known, only narrow
    the files read (a trace id says nothing about its time, so by default all are).
    """
    tid = check_trace_id(trace_id)
    lo, hi = window(since, until, default=None)
    visible = visibility(db, actor)
    spans = run_sql(
        "SELECT * EXCLUDE (date, hour) FROM spans WHERE trace_id = $trace ORDER BY start, span_id",
        relations(db, visible, since=lo, until=hi, datasets=("spans",)),
        max_rows=MAX_TRACE_SPANS,
        timeout=visible.timeout,
        params={"trace": tid},
    )
    if spans.table.num_rows == 0:
        raise NotFound(f"no trace {tid}")
    first = spans.table.column("timestamp")
    start, end = (as_utc(v.as_py()) for v in (first[0], first[-1]))
    ends = [e for e in spans.table.column("end").to_pylist() if e is not None]
    end = max([end, *(as_utc(e) for e in ends)])
    margin = _TRACE_LOG_MARGIN
    logs = run_sql(
        "SELECT timestamp, service, span_id, severity, severity_number, body, attributes "
        "FROM logs WHERE trace_id = $trace ORDER BY timestamp",
        relations(db, visible, since=start - margin, until=end + margin, datasets=("logs",)),
        max_rows=MAX_TRACE_SPANS,
        timeout=visible.timeout,
        params={"trace": tid},
    )
    return build_trace(tid, spans.table, logs.table, truncated=spans.truncated or logs.truncated)
