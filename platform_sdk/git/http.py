"""Git over smart HTTP (and Git LFS) at ``/{owner}/{name}.git/…``, as pure ASGI.

:class:`GitHttp` wraps the platform's ASGI app: requests whose path is a git or LFS endpoint
are answered here, everything else goes to the wrapped app. Pure ASGI rather than FastAPI
routes because both directions stream (a push may be gigabytes): the request body is pumped
into git's stdin as it arrives and git's stdout goes out as it is produced (see
:mod:`platform_sdk.git.protocol`), with no response class listening on ``receive`` behind our
back.

Endpoints (``owner``/``name`` validated: no ``..``, no slashes, only live projects):

==========================================  =================================================
``GET  info/refs?service=git-upload-pack``  ref advertisement (``# service=`` header unless v2)
``GET  info/refs?service=git-receive-pack`` same, for pushes (needs ``project:write``)
``POST git-upload-pack``                    fetch/clone (``Git-Protocol`` → ``GIT_PROTOCOL``)
``POST git-receive-pack``                   push; hooks enforce protection, then it is recorded
``POST info/lfs/objects/batch``             LFS batch API — see :mod:`platform_sdk.git.lfs`
``PUT|GET info/lfs/objects/{oid}``          LFS basic transfer
==========================================  =================================================

Answers before git starts are plain text, which the git client prints as ``remote: …``:
401 with ``WWW-Authenticate: Basic realm="platform"`` (so git asks for credentials), 404 for
what the caller may not see, 403 naming the missing permission, 503 + ``Retry-After`` past
the concurrency cap (``PLATFORM_GIT_MAX_CONCURRENCY``, default 8). Each git process is killed
after ``PLATFORM_GIT_TIMEOUT`` seconds (default 3600).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_sdk.core.access import Actor
from platform_sdk.errors import BadRequest, PlatformError
from platform_sdk.git import hooks
from platform_sdk.git.gitauth import actor_from_header
from platform_sdk.git.protocol import GitProcess, Slots, ensure_hooks_dir, gunzip, pkt_line
from platform_sdk.git.push_schemas import RefUpdate
from platform_sdk.git.services.pushes import record_push
from platform_sdk.git.services.transport import GitTarget, authorize_git
from platform_sdk.sdk import Platform

__all__ = ["GIT_PATH", "GitHttp", "Request", "send_text"]

log = logging.getLogger(__name__)
T = TypeVar("T")

GIT_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9][A-Za-z0-9._-]{0,63})/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,99})\.git"
    r"/(?P<rest>info/refs|git-upload-pack|git-receive-pack|info/lfs/objects/batch"
    r"|info/lfs/objects/(?P<oid>[0-9a-f]{64}))$"
)
"""The paths :class:`GitHttp` answers; everything else goes to the wrapped app."""

SERVICES = ("git-upload-pack", "git-receive-pack")


async def send_text(
    send: Send, status: int, text: str, headers: dict[str, str] | None = None
) -> None:
    """A plain-text answer (git shows ``text/plain`` error bodies to its user)."""
    body = (text.rstrip("\n") + "\n").encode()
    raw = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-cache"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def error_headers(err: PlatformError) -> dict[str, str]:
    if err.status == 401:
        return {"WWW-Authenticate": 'Basic realm="platform"'}
    retry = getattr(err, "retry_after", None)
    return {"Retry-After": str(retry)} if retry is not None else {}


class Request:
    """What the git and LFS handlers need of one ASGI request."""

    def __init__(self, scope: Scope, receive: Receive, match: re.Match[str]) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.owner = match["owner"]
        self.name = match["name"]
        self.rest = match["rest"]
        self.oid: str | None = match["oid"]
        self.headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        self.query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        client = scope.get("client")
        self.client_addr: str | None = client[0] if client else None

    def base_url(self) -> str:
        scheme = self.scope.get("scheme", "http")
        host = self.headers.get("host")
        if not host:
            server = self.scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        root = self.scope.get("root_path", "")
        return f"{scheme}://{host}{root}/{self.owner}/{self.name}.git"

    async def chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives (gunzipped when ``Content-Encoding: gzip``)."""

        async def raw() -> AsyncIterator[bytes]:
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                if body:
                    yield body
                if not message.get("more_body", False):
                    return

        encoding = self.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            async for chunk in gunzip(raw()):
                yield chunk
        elif encoding in ("", "identity"):
            async for chunk in raw():
                yield chunk
        else:
            raise BadRequest(f"unsupported Content-Encoding {encoding!r}")


class GitHttp:
    """ASGI middleware answering git smart HTTP and LFS in front of ``app``.

    ``platform`` defaults to ``scope["app"].state.platform`` or ``app.state.platform`` (the
    FastAPI app's, set by its lifespan), so it can sit inside ``create_app``'s middleware
    stack or wrap the app from outside.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        platform: Platform | None = None,
        max_concurrency: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.app = app
        self._platform = platform
        self._max_concurrency = max_concurrency
        self._timeout = timeout
        self._slots: Slots | None = None
        self._hooks: Path | None = None

    # -- plumbing -------------------------------------------------------------------------
    def platform(self, scope: Scope) -> Platform:
        if self._platform is not None:
            return self._platform
        for holder in (scope.get("app"), self.app):
            plat = getattr(getattr(holder, "state", None), "platform", None)
            if isinstance(plat, Platform):
                return plat
        raise RuntimeError("GitHttp needs a platform: pass one or run inside create_app")

    def slots(self, platform: Platform) -> Slots:
        if self._slots is None:
            limit = self._max_concurrency
            if limit is None:
                limit = platform.settings.git_max_concurrency
            self._slots = Slots(limit)
        return self._slots

    def timeout(self, platform: Platform) -> float:
        if self._timeout is None:
            self._timeout = platform.settings.git_timeout
        return self._timeout

    def hooks_dir(self, platform: Platform) -> Path:
        if self._hooks is None:
            self._hooks = ensure_hooks_dir(platform.settings.data_dir / "git-hooks")
        return self._hooks

    @staticmethod
    async def in_thread(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def authorize(
        self, platform: Platform, req: Request, *, write: bool
    ) -> tuple[Actor | None, GitTarget]:
        def work() -> tuple[Actor | None, GitTarget]:
            with platform.session() as db:
                actor = actor_from_header(db, req.headers.get("authorization"), req.client_addr)
                target = authorize_git(db, actor=actor, owner=req.owner, name=req.name, write=write)
                return actor, target

        return await self.in_thread(work)

    # -- dispatch -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = GIT_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or ".." in match["owner"] or ".." in match["name"]:
            await self.app(scope, receive, send)
            return
        req = Request(scope, receive, match)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.dispatch(req, tracking_send)
        except PlatformError as err:
            if started:
                log.warning("git request failed mid-response", extra={"error": err.message})
                return
            await send_text(send, err.status, err.message, error_headers(err))
        except Exception:
            log.exception("git request failed", extra={"path": scope.get("path")})
            if not started:
                await send_text(send, 500, "internal error")

    async def dispatch(self, req: Request, send: Send) -> None:
        from platform_sdk.git import lfs

        platform = self.platform(req.scope)
        if req.rest.startswith("info/lfs/"):
            await lfs.handle(self, platform, req, send)
        elif req.rest == "info/refs" and req.method in ("GET", "HEAD"):
            service = (req.query.get("service") or [""])[0]
            if service not in SERVICES:
                raise BadRequest("only smart HTTP is served: ask for ?service=git-upload-pack")
            await self.advertise(platform, req, send, service)
        elif req.rest in SERVICES and req.method == "POST":
            await self.rpc(platform, req, send, req.rest)
        else:
            await send_text(send, 405, f"{req.method} not allowed on {req.rest}")

    # -- git ------------------------------------------------------------------------------
    def _env(self, req: Request) -> dict[str, str]:
        proto = req.headers.get("git-protocol", "")
        return {"GIT_PROTOCOL": proto} if proto and proto.isprintable() else {}

    async def advertise(self, platform: Platform, req: Request, send: Send, service: str) -> None:
        _actor, target = await self.authorize(platform, req, write=service == "git-receive-pack")
        env = self._env(req)
        args = [service.removeprefix("git-"), "--stateless-rpc", "--advertise-refs"]
        with self.slots(platform).take():
            proc = GitProcess([*args, str(target.path)], env=env, timeout=self.timeout(platform))
            await proc.start()
            head = b""
            if not (service == "git-upload-pack" and "version=2" in env.get("GIT_PROTOCOL", "")):
                head = pkt_line(f"# service={service}\n") + b"0000"
            await self._stream(send, proc, None, f"application/x-{service}-advertisement", head)

    async def rpc(self, platform: Platform, req: Request, send: Send, service: str) -> None:
        write = service == "git-receive-pack"
        actor, target = await self.authorize(platform, req, write=write)
        env = self._env(req)
        args = [service.removeprefix("git-"), "--stateless-rpc", str(target.path)]
        report: Path | None = None
        with self.slots(platform).take():
            if write:
                hooks_dir = self.hooks_dir(platform)
                tmp = platform.settings.data_dir / "tmp"
                tmp.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix="push-", suffix=".txt", dir=tmp)
                os.close(fd)
                report = Path(name)
                env[hooks.REPORT_ENV] = str(report)
                env[hooks.PROTECTED_ENV] = json.dumps(list(target.protected_branches))
                args = ["-c", f"core.hooksPath={hooks_dir}", *args]
            try:
                proc = GitProcess(args, env=env, timeout=self.timeout(platform))
                await proc.start()

                async def after() -> None:
                    if report is not None and actor is not None:
                        await self._record(platform, actor, target, report)

                await self._stream(
                    send, proc, req.chunks(), f"application/x-{service}-result", b"", after
                )
            finally:
                if report is not None:
                    report.unlink(missing_ok=True)

    async def _record(
        self, platform: Platform, actor: Actor, target: GitTarget, report: Path
    ) -> None:
        updates = []
        text = await asyncio.to_thread(report.read_text)
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3:
                updates.append(RefUpdate(before=parts[0], after=parts[1], ref=parts[2]))
        if not updates:
            return

        def work() -> None:
            with platform.session() as db:
                record_push(db, actor=actor, project_id=target.project_id, updates=updates)

        try:
            await self.in_thread(work)
        except Exception:
            log.exception("could not record push", extra={"project": target.label})

    async def _stream(
        self,
        send: Send,
        proc: GitProcess,
        body: AsyncIterator[bytes] | None,
        content_type: str,
        head: bytes,
        after: Callable[[], Any] | None = None,
    ) -> None:
        """Send git's stdout as the response; ``after()`` runs before the final body message."""
        started = False

        async def start() -> None:
            nonlocal started
            started = True
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"cache-control", b"no-cache, max-age=0, must-revalidate"),
                        (b"expires", b"Fri, 01 Jan 1980 00:00:00 GMT"),
                        (b"pragma", b"no-cache"),
                    ],
                }
            )
            if head:
                await send({"type": "http.response.body", "body": head, "more_body": True})

        async for chunk in proc.output(body):
            if not started:
                await start()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not started:
            if proc.returncode == 0 and not proc.timed_out:
                await start()  # e.g. the client's auth probe: a lone flush-pkt, no answer
            else:
                detail = proc.stderr.decode("utf-8", "replace").strip()[:500]
                why = "timed out" if proc.timed_out else f"exited {proc.returncode}"
                log.warning(
                    "git produced no output", extra={"git_args": proc.args, "stderr": detail}
                )
                await send_text(send, 500, f"git {why} without answering: {detail}")
                return
        if proc.timed_out:
            log.warning("git process timed out and was killed", extra={"git_args": proc.args})
        if after is not None:
            await after()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
