"""Pure ASGI middleware: request ids with access logging, body limits, NUL guard."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_sdk.core.logsetup import escape_control
from platform_sdk.errors import BadRequest, PayloadTooLarge, PlatformError

__all__ = ["AccessLogMiddleware", "BodyLimitMiddleware", "NulGuardMiddleware"]

access_log = logging.getLogger("platform.access")


class AccessLogMiddleware:
    """Give every request an ``X-Request-ID`` (kept if the client sent a sane one) and log it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = scope.get("client")
            # Escaped here too, so even a handler without the platform's formatters cannot
            # be fed a forged line through a CR/LF/NUL in the path (the fields stay exact;
            # both formatters escape them).
            access_log.info(
                "%s %s %s",
                escape_control(scope["method"]),
                escape_control(scope["path"]),
                status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    "client": client[0] if client else None,
                },
            )


class BodyLimitMiddleware:
    """Refuse request bodies over a limit with 413, by ``Content-Length`` or while streaming.

    ``overrides`` maps path prefixes to their own limit (longest prefix wins), so git pushes
    and OTLP ingest can have limits of their own; a limit of ``None`` means unlimited (the
    route streams and bounds memory itself).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        overrides: Sequence[tuple[str, int | None]] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.overrides = sorted(overrides, key=lambda o: len(o[0]), reverse=True)

    def limit_for(self, path: str) -> int | None:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await _reject(send, limit)
                return
        seen = 0
        started = rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer 413 now; the app sees a disconnected client and its own
                    # response (if any) is dropped below.
                    rejected = True
                    if not started:
                        await _reject(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not rejected:
                raise
            # The app failed because we cut its body short (ClientDisconnect or similar);
            # the client already has its 413.


async def _reject(send: Send, limit: int) -> None:
    err = PayloadTooLarge(
        f"request body is larger than the limit of {limit} bytes", details={"limit": limit}
    )
    await send_error(send, err, close=True)


async def send_error(send: Send, err: PlatformError, *, close: bool = False) -> None:
    """Answer with ``err``'s status and JSON body straight from ASGI middleware."""
    body = json.dumps(err.to_dict()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_NUL_REFUSED = "contains a NUL character, which is not allowed"


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _json_has_nul(body: bytes) -> bool:
    if b"\x00" in body:
        return True
    if b"\\u0000" not in body:  # the only way JSON text spells NUL
        return False
    try:
        return _has_nul(json.loads(body))
    except ValueError:
        return False  # not JSON: the route answers 422 for it


class NulGuardMiddleware:
    """Refuse NUL characters in API requests with 400 before any service sees them.

    PostgreSQL text cannot hold NUL while SQLite can: rejecting them at the door keeps the two
    stores equal and turns what would be a database error into a clear answer. Applies to the
    path, the query string and JSON bodies of routes under ``prefix`` (bodies there are JSON
    and bounded by the body limit); binary protocols (git, OTLP) live elsewhere.
    """

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        raw_target = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"%00" in raw_target.lower() or b"\x00" in raw_target:
            await send_error(
                send, BadRequest("the URL contains a NUL character, which is not allowed")
            )
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if b"json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _json_has_nul(body):
            await send_error(
                send, BadRequest("the body contains a NUL character, which is not allowed")
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
