"""Typed telemetry queries as an actor: log search and traces.

These are the helpers behind ``p.observe.logs(…)``, ``p.observe.trace(id)``,
``GET /api/observe/logs`` and ``/traces/{id}``. Each one is a fixed SQL statement run by the
sandbox of :func:`~platform_sdk.observe.query.run_sql` over the views the actor may read
(:func:`~platform_sdk.observe.explore_base.relations`) — the same rows, the same
limits as :func:`~platform_sdk.observe.services.query.sql` — with every value bound as a
parameter. Whole rows are read in two phases (:mod:`platform_sdk.observe.explore_scan`): the
time range of the matching rows first, projecting only the filtered columns, then the rows of
that range. Metrics are in :mod:`.explore_metrics`, session timelines in
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
from platform_sdk.core.db import release
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.explore_base import (
    LEVEL_SQL,
    Visible,
    as_utc,
    check_trace_id,
    level_floor,
    level_names,
    like_pattern,
    relations,
    visibility,
    window,
)
from platform_sdk.observe.explore_scan import just_after, matching_span
from platform_sdk.observe.query import QueryResult, run_sql
from platform_sdk.observe.schema import SCHEMAS
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
    visible = visibility(db, actor, project=project)
    where: list[str] = []
    params: dict[str, object] = {}
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
    return _read(
        db,
        visible,
        "logs",
        condition,
        params,
        since=lo,
        until=hi,
        newest=limit,
        order="timestamp DESC",
        max_rows=visible.max_rows,
    ).table


def _read(
    db: Session,
    visible: Visible,
    dataset: str,
    condition: str,
    params: dict[str, object],
    *,
    since: datetime | None,
    until: datetime | None,
    order: str,
    max_rows: int,
    newest: int | None = None,
) -> QueryResult:
    """Whole rows of ``dataset`` matching ``condition`` in ``[since, until)`` (the ``newest``
    newest and their ties when given), read in two phases (:mod:`..explore_scan`)."""
    release(db)  # ``visible`` is all it needs from the database: no transaction while DuckDB runs
    views = relations(db, visible, since=since, until=until, datasets=(dataset,))
    span = matching_span(views, dataset, condition, params, timeout=visible.timeout, newest=newest)
    schema = SCHEMAS[dataset]  # type: ignore[index]
    if span is None:
        return QueryResult(schema.empty_table(), truncated=False, elapsed=0.0)
    oldest, latest = span
    views = relations(db, visible, since=oldest, until=just_after(latest), datasets=(dataset,))
    query = (
        f"SELECT * EXCLUDE (date, hour) FROM {dataset} "  # noqa: S608 - fixed fragments
        f"WHERE {condition} AND timestamp >= $oldest ORDER BY {order}"
    )
    result = run_sql(
        query,
        views,
        max_rows=max_rows,
        timeout=visible.timeout,
        params={**params, "oldest": oldest},
    )
    return QueryResult(result.table.cast(schema), result.truncated, result.elapsed)


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
    params: dict[str, object] = {"trace": tid}
    condition = "trace_id = $trace"
    spans = _read(
        db,
        visible,
        "spans",
        condition,
        params,
        since=lo,
        until=hi,
        order="start, span_id",
        max_rows=MAX_TRACE_SPANS,
    )
    if spans.table.num_rows == 0:
        raise NotFound(f"no trace {tid}")
    first = spans.table.column("timestamp")
    start, end = (as_utc(v.as_py()) for v in (first[0], first[-1]))
    ends = [e for e in spans.table.column("end").to_pylist() if e is not None]
    end = max([end, *(as_utc(e) for e in ends)])
    margin = _TRACE_LOG_MARGIN
    logs = _read(
        db,
        visible,
        "logs",
        condition,
        params,
        since=start - margin,
        until=end + margin,
        order="timestamp",
        max_rows=MAX_TRACE_SPANS,
    )
    return build_trace(tid, spans.table, logs.table, truncated=spans.truncated or logs.truncated)
