"""SQL over telemetry as an actor: the views restricted to what the actor may ``observe:read``.

:func:`sql` is what ``p.observe.sql``, ``POST /api/observe/sql`` and ``platform observe sql``
call. The sandbox (read-only, one SELECT, bounded rows and time, no files) is
:func:`platform_sdk.observe.query.run_sql`; this function decides the rows it gets: the
telemetry views ``logs``, ``spans``, ``metrics`` filtered to the projects the actor may
``observe:read`` (:mod:`platform_sdk.observe.scope`), and the platform tables holding exactly
what their REST listings show the actor (:mod:`platform_sdk.observe.platform_tables`), all
before the query starts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.db import release
from platform_sdk.core.runtime import runtime_of
from platform_sdk.errors import BadRequest
from platform_sdk.observe.platform_tables import TABLES, platform_relations
from platform_sdk.observe.query import QueryResult, run_sql, telemetry_relations
from platform_sdk.observe.scope import actor_scope
from platform_sdk.observe.telemetry import telemetry_of

__all__ = ["sql"]


def sql(
    db: Session,
    *,
    actor: Actor,
    query: str,
    since: datetime | None = None,
    until: datetime | None = None,
    max_rows: int | None = None,
    timeout: float | None = None,
) -> QueryResult:
    """Run one read-only SELECT over ``logs``, ``spans``, ``metrics`` and the platform tables
    (``projects``, ``pipelines``, ``pipeline_steps``, ``agent_sessions``, ``deployments``,
    ``audit_log``), seeing only what the actor may read."""
    settings = runtime_of(db).settings
    limit = min(max_rows or settings.query_max_rows, settings.query_max_rows)
    if limit < 1:
        raise BadRequest("max_rows must be at least 1")
    if since is not None and until is not None and since >= until:
        raise BadRequest("since must be before until")
    seen = actor_scope(db, actor)
    telemetry = telemetry_of(runtime_of(db))
    relations: dict[str, object] = dict(
        telemetry_relations(telemetry.source, seen.scope, since=since, until=until)
    )
    lowered = query.lower()
    wanted = [t for t in TABLES if t in lowered]  # only copy the tables the query names
    if wanted:
        relations.update(platform_relations(db, actor, tables=wanted))
    release(db)  # everything the query reads is in memory: no transaction while DuckDB runs
    return run_sql(
        query,
        relations,  # type: ignore[arg-type]
        max_rows=limit,
        timeout=min(timeout or settings.query_timeout, settings.query_timeout),
    )
