"""OTLP/HTTP receivers: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Per the OTLP/HTTP specification: protobuf (``application/x-protobuf``) or JSON
(``application/json``) bodies, optionally gzip; the answer is an ``Export…ServiceResponse`` in
the request's content type (with ``partial_success`` when records were rejected); errors are a
``google.rpc.Status`` body in the request's content type with the HTTP status of the error —
400 malformed (nothing stored), 401 no or bad token, 403 no ``observe:write`` on a project named
in the data, 404 unknown project, 413 too large, 415 unsupported content type, 429/503 with
``Retry-After`` when the spool is full or failing. Authentication is a Bearer API token.

The same router is mounted on the main app and, when ``PLATFORM_OTLP_LISTEN`` is set, on a
listener of its own (:class:`OtlpListener`, e.g. ``0.0.0.0:4318`` as collectors expect).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from platform_sdk.errors import PlatformError, Unauthenticated
from platform_sdk.identity.authn import authenticate
from platform_sdk.observe.otlp import GRPC_CODE_FOR_STATUS, response_content_type, status_body
from platform_sdk.observe.schema import Signal
from platform_sdk.observe.services.ingest import ingest

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["OtlpListener", "otlp_app", "router"]

log = logging.getLogger(__name__)

_STATUS_BODY = {
    "description": "A google.rpc.Status in the request's content type",
    "content": {
        "application/x-protobuf": {},
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
}
router = APIRouter(
    prefix="/v1",
    tags=["otlp"],
    responses={
        200: {
            "description": "An Export…ServiceResponse (partial_success when records were "
            "rejected), in the request's content type",
            "content": {"application/x-protobuf": {}, "application/json": {}},
        },
        **dict.fromkeys((400, 401, 403, 404, 413, 415, 429, 503), _STATUS_BODY),
    },
)

_BODY = {
    "content": {"application/x-protobuf": {}, "application/json": {}},
    "description": "An OTLP Export…ServiceRequest",
    "required": True,
}


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthenticated("send an API token as Authorization: Bearer <token>")
    if len(raw) > 256:
        raise Unauthenticated("unrecognised credential")
    return raw.strip()


async def _export(signal: Signal, request: Request) -> Response:
    platform: Platform = request.app.state.platform
    content_type = request.headers.get("content-type")
    media = response_content_type(content_type)
    try:
        raw = _bearer(request)
        body = await request.body()

        def work() -> bytes:
            with platform.session() as db:
                client = request.client.host if request.client else None
                actor = authenticate(db, raw, client_addr=client)
            with platform.session() as db:
                out = ingest(
                    db,
                    actor=actor,
                    signal=signal,
                    body=body,
                    content_type=content_type,
                    content_encoding=request.headers.get("content-encoding"),
                )
            return out.body

        return Response(await run_in_threadpool(work), media_type=media)
    except PlatformError as exc:
        code = GRPC_CODE_FOR_STATUS.get(exc.status, 2)
        if exc.status >= 500:
            log.warning("OTLP ingest refused: %s", exc.message)
        return Response(
            status_body(code, exc.message, content_type),
            status_code=exc.status,
            media_type=media,
            headers=exc.headers(),
        )


@router.post("/traces", summary="OTLP/HTTP trace export", openapi_extra={"requestBody": _BODY})
async def export_traces(request: Request) -> Response:
    return await _export("traces", request)


@router.post("/logs", summary="OTLP/HTTP log export", openapi_extra={"requestBody": _BODY})
async def export_logs(request: Request) -> Response:
    return await _export("logs", request)


@router.post("/metrics", summary="OTLP/HTTP metric export", openapi_extra={"requestBody": _BODY})
async def export_metrics(request: Request) -> Response:
    return await _export("metrics", request)


def otlp_app(platform: Platform) -> FastAPI:
    """An app with only the OTLP receivers (for ``PLATFORM_OTLP_LISTEN``)."""
    from platform_sdk.server.middleware import BodyLimitMiddleware

    app = FastAPI(title="Platform OTLP receiver", openapi_url=None, docs_url=None)
    app.state.platform = platform
    app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, limit=platform.settings.otlp_max_bytes)
    return app


class OtlpListener:
    """Serves :func:`otlp_app` on ``PLATFORM_OTLP_LISTEN`` in a thread of its own (its own
    event loop; no signal handlers, which belong to the main server)."""

    def __init__(self, platform: Platform, listen: str) -> None:
        import uvicorn

        host, _, port = listen.rpartition(":")
        self.server = uvicorn.Server(
            uvicorn.Config(
                otlp_app(platform),
                host=host.strip("[]") or "127.0.0.1",
                port=int(port),
                log_config=None,
                access_log=False,
                lifespan="off",
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="otlp-listener", daemon=True)

    async def run_forever(self, stop: asyncio.Event) -> None:
        self.thread.start()
        try:
            await stop.wait()
        finally:
            self.server.should_exit = True
            await asyncio.to_thread(self.thread.join, 30)
