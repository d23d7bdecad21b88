"""``/api/projects/{owner}/{name}/pipelines``: runs, steps, logs (also live, SSE), artifacts.

Thin: parse, call one service of :mod:`platform_sdk.pipelines.services`, return its schema.
``GET …/pipelines/{number}/events`` is a Server-Sent Events stream (``text/event-stream``) of
:func:`~platform_sdk.pipelines.follow.follow_run`: ``status``, ``log`` and a final ``end``
event, each with a JSON ``data`` line. ``POST /api/pipelines/lint`` validates a definition
without running it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from platform_sdk.core.pagination import Page
from platform_sdk.pipelines import definition
from platform_sdk.pipelines.follow import follow_run
from platform_sdk.pipelines.schemas import ArtifactOut, LogChunk, RunOut, RunStatus, TriggerIn
from platform_sdk.pipelines.services import runs, steps
from platform_sdk.server.deps import DB_INT_MAX, ActorDep, Number, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{owner}/{name}/pipelines", tags=["pipelines"])
lint_router = APIRouter(prefix="/api/pipelines", tags=["pipelines"])

StepName = Annotated[str, Query(min_length=1, max_length=100)]


@router.get("", summary="Runs of a project, newest first")
def list_runs(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    owner: str,
    name: str,
    status: RunStatus | None = None,
    ref: Annotated[str | None, Query(max_length=255)] = None,
) -> Page[RunOut]:
    return call(
        plat,
        runs.list_runs,
        actor=actor,
        project=f"{owner}/{name}",
        page=page,
        status=status,
        ref=ref,
    )


@router.post("", status_code=201, summary="Start a manual run")
def trigger(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, body: TriggerIn | None = None
) -> RunOut:
    return call(plat, runs.trigger_run, actor=actor, project=f"{owner}/{name}", body=body)


@router.get("/{number}", summary="One run with its steps")
def get_run(plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number) -> RunOut:
    return call(plat, runs.get_run, actor=actor, project=f"{owner}/{name}", number=number)


@router.post("/{number}/cancel", summary="Cancel a pending or running run")
def cancel(plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number) -> RunOut:
    return call(plat, runs.cancel_run, actor=actor, project=f"{owner}/{name}", number=number)


@router.post("/{number}/rerun", status_code=201, summary="Run the same commit again")
def rerun(plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number) -> RunOut:
    return call(plat, runs.rerun, actor=actor, project=f"{owner}/{name}", number=number)


@router.get("/{number}/logs", summary="A step's log from a byte offset")
def step_log(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    number: Number,
    step: StepName,
    offset: Annotated[int, Query(ge=0)] = 0,
    attempt: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> LogChunk:
    return call(
        plat,
        steps.step_log,
        actor=actor,
        project=f"{owner}/{name}",
        number=number,
        step=step,
        offset=offset,
        attempt=attempt,
    )


@router.get(
    "/{number}/events",
    summary="Live status and logs of a run (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def events(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    number: Number,
    step: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    project = f"{owner}/{name}"
    call(plat, runs.get_run, actor=actor, project=project, number=number)  # 404 before streaming

    def stream() -> Iterator[str]:
        yield ": following\n\n"
        for event in follow_run(plat, actor, project, number, step=step):
            yield f"event: {event.kind}\ndata: {json.dumps(event.data)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{number}/artifacts", summary="Artifacts of a run")
def list_artifacts(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> list[ArtifactOut]:
    return call(plat, steps.list_artifacts, actor=actor, project=f"{owner}/{name}", number=number)


@router.get(
    "/{number}/artifacts/download",
    summary="Download one artifact",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    number: Number,
    artifact: Annotated[str, Query(min_length=1, max_length=255, alias="name")],
    step: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    out, f = call(
        plat,
        steps.open_artifact,
        actor=actor,
        project=f"{owner}/{name}",
        number=number,
        name=artifact,
        step=step,
    )

    def chunks() -> Iterator[bytes]:
        with f:
            while block := f.read(1 << 16):
                yield block

    filename = out.name.rsplit("/", 1)[-1].replace('"', "")
    return StreamingResponse(
        chunks(),
        media_type=out.content_type,
        headers={
            "Content-Length": str(out.size_bytes),
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Checksum-Sha256": out.sha256,
        },
    )


@lint_router.post("/lint", summary="Validate a .platform.yaml without running it")
def lint(
    actor: ActorDep,
    text: Annotated[str, Body(media_type="text/plain", max_length=256 * 1024)],
) -> dict[str, object]:
    parsed = definition.parse_definition(text)
    return {"valid": True, "steps": [s.name for s in parsed.steps], "actor": actor.username}
