"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from platform_sdk.__about__ import __version__

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz(request: Request) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "background": request.app.state.background.running,
    }


@router.get(
    "/readyz",
    summary="Readiness: database (with current schema), object store and bus reachable",
    responses={503: {"description": "a component is down; the body names it"}},
)
async def readyz(request: Request) -> JSONResponse:
    readiness = await run_in_threadpool(request.app.state.platform.readiness)
    return JSONResponse(readiness.to_dict(), status_code=200 if readiness.ok else 503)
