"""``/api/observe/…``: SQL and typed queries over telemetry, and the live tail.

Thin, like every route: parse, call one service, serialise. Tabular answers come as JSON
(``{"columns": [...], "rows": [[...], ...], "truncated": false, "elapsed_ms": 12.3}``) or, when
the request sends ``Accept: application/vnd.apache.arrow.stream``, as an Arrow IPC stream
(the ``X-Truncated`` header says whether rows were cut) — what DataFrame clients want. JSON
values follow :mod:`platform_sdk.observe.json_rows` (``"NaN"``/``"Infinity"``, ISO dates and
times, huge integers as decimal text), so no result type answers 500.
``GET /api/observe/tail`` is a Server-Sent Events stream of log records as they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from platform_sdk.observe.json_rows import json_rows, json_value
from platform_sdk.observe.services import explore, explore_metrics, explore_session
from platform_sdk.observe.services.query import sql
from platform_sdk.observe.tail import tail
from platform_sdk.observe.trace import TraceOut
from platform_sdk.server.deps import ActorDep, PlatformDep, call

__all__ = ["ARROW_STREAM", "SqlIn", "router", "table_response"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
router = APIRouter(prefix="/api/observe", tags=["observe"])

_TABLE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Rows as JSON, or an Arrow IPC stream when asked for",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            ARROW_STREAM: {},
        },
    }
}


class SqlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=100_000)
    since: datetime | None = None
    until: datetime | None = None
    max_rows: int | None = Field(None, ge=1, le=1_000_000)


def table_response(
    request: Request, table: pa.Table, *, truncated: bool = False, elapsed: float = 0.0
) -> Response:
    """``table`` as JSON or Arrow IPC, as the request's ``Accept`` header asks."""
    if ARROW_STREAM in request.headers.get("accept", ""):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Response(
            sink.getvalue().to_pybytes(),
            media_type=ARROW_STREAM,
            headers={"X-Truncated": str(truncated).lower()},
        )
    columns = table.column_names
    rows = json_rows(table)
    body = {
        "columns": columns,
        "rows": rows,
        "truncated": truncated,
        "elapsed_ms": round(elapsed * 1000, 3),
    }
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")


@router.post("/sql", summary="Read-only SQL over telemetry and platform tables", responses=_TABLE)
def run_sql(plat: PlatformDep, actor: ActorDep, body: SqlIn, request: Request) -> Response:
    result = call(
        plat,
        sql,
        actor=actor,
        query=body.query,
        since=body.since,
        until=body.until,
        max_rows=body.max_rows,
    )
    return table_response(request, result.table, truncated=result.truncated, elapsed=result.elapsed)


Text = Annotated[str | None, Query(max_length=200)]


@router.get("/logs", summary="Search log records, newest first", responses=_TABLE)
def search_logs(
    plat: PlatformDep,
    actor: ActorDep,
    request: Request,
    project: Text = None,
    session: Text = None,
    trace: Annotated[str | None, Query(max_length=32)] = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
    q: Text = None,
    service: Text = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Response:
    table = call(
        plat,
        explore.search_logs,
        actor=actor,
        project=project,
        session=session,
        trace=trace,
        level=level,
        q=q,
        service=service,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )
    return table_response(request, table)


@router.get("/traces/{trace_id}", summary="A trace: its span tree, waterfall and logs")
def get_trace(
    plat: PlatformDep, actor: ActorDep, trace_id: Annotated[str, Path(max_length=64)]
) -> TraceOut:
    return call(plat, explore.get_trace, actor=actor, trace_id=trace_id)


@router.get("/metrics/query", summary="A metric downsampled to time buckets", responses=_TABLE)
def query_metric(
    plat: PlatformDep,
    actor: ActorDep,
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=255)],
    project: Text = None,
    labels: Annotated[str | None, Query(max_length=2000, description="JSON object")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    step: Annotated[int | None, Query(ge=1, le=86_400 * 7)] = None,
    agg: Annotated[str, Query(max_length=8)] = "avg",
    group_by: Annotated[list[str] | None, Query(max_length=10)] = None,
) -> Response:
    parsed: dict[str, str] | None = None
    if labels:
        try:
            loaded = json.loads(labels)
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            from platform_sdk.errors import ValidationFailed

            raise ValidationFailed("labels: must be a JSON object", details={"field": "labels"})
        parsed = {str(k): str(v) for k, v in loaded.items()}
    table = call(
        plat,
        explore_metrics.query_metric,
        actor=actor,
        name=name,
        project=project,
        labels=parsed,
        since=since,
        until=until,
        step_seconds=step,
        agg=agg,
        group_by=group_by or [],
    )
    return table_response(request, table)


@router.get("/sessions/{session_id}", summary="Everything an agent session did, in order")
def session_timeline(
    plat: PlatformDep,
    actor: ActorDep,
    request: Request,
    session_id: Annotated[str, Path(max_length=200)],
) -> Response:
    table = call(plat, explore_session.session_timeline, actor=actor, session_id=session_id)
    return table_response(request, table)


@router.get(
    "/tail",
    summary="Live log records (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def live_tail(
    plat: PlatformDep,
    actor: ActorDep,
    project: Text = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
    q: Text = None,
) -> StreamingResponse:
    records = tail(plat, actor=actor, project=project, level=level, q=q)

    def stream() -> Iterator[str]:
        yield ": tailing\n\n"
        for record in records:
            yield f"event: log\ndata: {json.dumps(json_value(record), allow_nan=False)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
