"""An ASGI middleware that records a server span per HTTP request (self-telemetry).

The span is named after the route template once routing has happened (``GET
/api/projects/{owner}/{name}/issues``), or ``git upload-pack`` / ``git receive-pack`` / ``git
info/refs`` for smart HTTP (with ``platform.project`` set, so the owner project's readers see
their git traffic). A W3C ``traceparent`` header continues the caller's trace. Health checks,
the OTLP receivers (recording ingest as telemetry would feed itself) and the live streams are
not traced.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_sdk.observe.selftelemetry import self_telemetry

__all__ = ["TracingMiddleware"]

_SKIP = ("/healthz", "/readyz", "/v1/")
_GIT = re.compile(r"^/([^/]+)/([^/]+?)\.git/(info/refs|git-upload-pack|git-receive-pack|info/lfs)")


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_SKIP):
            await self.app(scope, receive, send)
            return
        state = scope.get("app")
        platform = getattr(getattr(state, "state", None), "platform", None)
        if platform is None or not platform.settings.self_telemetry:
            await self.app(scope, receive, send)
            return
        tracer = self_telemetry(platform.runtime).tracer
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        attributes: dict[str, Any] = {
            "http.request.method": scope["method"],
            "url.path": path,
        }
        git = _GIT.match(path)
        if git:
            operation = git.group(3)
            service = operation.removeprefix("git-") if operation.startswith("git-") else operation
            if operation == "info/refs":
                query = scope.get("query_string", b"").decode("latin-1")
                service = "info/refs " + query.removeprefix("service=")
            name = f"git {service}"
            attributes["platform.project"] = f"{git.group(1)}/{git.group(2)}"
        else:
            name = f"{scope['method']} {path}"
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        with tracer.start_as_current_span(
            name, context=extract(headers), kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None)
                if template and not git:
                    span.update_name(f"{scope['method']} {template}")
                    span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status["code"])
                if status["code"] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
