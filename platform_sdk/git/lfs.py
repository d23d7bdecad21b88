"""Git LFS over HTTP: the batch API and basic transfer (served by ``GitHttp``).

``POST /{owner}/{name}.git/info/lfs/objects/batch`` answers with ``basic`` transfer actions
whose ``href`` point back at this server (``…/info/lfs/objects/{oid}``) and carry the caller's
own ``Authorization`` header, so the LFS client reuses the credentials git had; uploads of
objects already stored get no action (the client skips them). ``PUT`` streams the body to a
temporary file (memory stays bounded), then :func:`~platform_sdk.git.services.lfs.store_object`
verifies sha256 and size before anything reaches the object store; ``GET`` streams the object
back from the store. Errors are LFS JSON (``{"message": …}``) with the statuses of the git
endpoints; 401 adds ``LFS-Authenticate`` next to ``WWW-Authenticate``.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import Send

from platform_sdk.errors import BadRequest, PlatformError, ValidationFailed
from platform_sdk.git.services import lfs as service
from platform_sdk.git.services.transport import authorize_git

if TYPE_CHECKING:
    from platform_sdk.git.http import GitHttp, Request
    from platform_sdk.sdk import Platform

__all__ = ["LFS_JSON", "handle"]

LFS_JSON = "application/vnd.git-lfs+json"
MAX_BATCH_BODY = 1 << 20
CHUNK = 1 << 20


async def _json(send: Send, status: int, body: dict[str, Any], extra: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", LFS_JSON.encode()),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-cache"),
    ] + [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def handle(git: GitHttp, platform: Platform, req: Request, send: Send) -> None:
    from platform_sdk.git.http import error_headers

    try:
        if req.rest.endswith("/batch") and req.method == "POST":
            await _batch(git, platform, req, send)
        elif req.oid is not None and req.method == "PUT":
            await _upload(git, platform, req, send)
        elif req.oid is not None and req.method in ("GET", "HEAD"):
            await _download(git, platform, req, send)
        else:
            await _json(send, 405, {"message": f"{req.method} not allowed here"}, {})
    except PlatformError as err:
        headers = error_headers(err)
        if err.status == 401:
            headers["LFS-Authenticate"] = 'Basic realm="platform"'
        await _json(send, err.status, {"message": err.message}, headers)


async def _body(req: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in req.chunks():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"batch request larger than {limit} bytes")
    return bytes(data)


async def _batch(git: GitHttp, platform: Platform, req: Request, send: Send) -> None:
    try:
        body = json.loads(await _body(req, MAX_BATCH_BODY))
    except ValueError:
        raise ValidationFailed("batch request is not JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("batch request must be a JSON object")
    operation = body.get("operation")
    objects = body.get("objects")
    if operation not in ("upload", "download") or not isinstance(objects, list):
        raise ValidationFailed("batch needs operation upload|download and a list of objects")
    transfers = body.get("transfers") or ["basic"]
    if "basic" not in transfers:
        raise ValidationFailed("only the basic transfer is supported")
    objs = [o if isinstance(o, dict) else {} for o in objects]

    def work() -> list[service.BatchItem]:
        with platform.session() as db:
            actor = git_actor(db, req)
            return service.lfs_batch(
                db, actor=actor, owner=req.owner, name=req.name, operation=operation, objects=objs
            )

    items = await git.in_thread(work)
    header = (
        {"Authorization": req.headers["authorization"]} if "authorization" in req.headers else {}
    )
    base = req.base_url()
    out = []
    for item in items:
        entry: dict[str, Any] = {"oid": item.oid, "size": item.size, "authenticated": True}
        if item.error is not None:
            entry["error"] = {"code": item.error[0], "message": item.error[1]}
        elif operation == "download" or not item.stored:
            action = "download" if operation == "download" else "upload"
            entry["actions"] = {
                action: {
                    "href": f"{base}/info/lfs/objects/{item.oid}",
                    "header": header,
                    "expires_in": 3600,
                }
            }
        out.append(entry)
    await _json(send, 200, {"transfer": "basic", "objects": out, "hash_algo": "sha256"}, {})


def git_actor(db: Any, req: Request) -> Any:
    from platform_sdk.git.gitauth import actor_from_header

    return actor_from_header(db, req.headers.get("authorization"), req.client_addr)


async def _upload(git: GitHttp, platform: Platform, req: Request, send: Send) -> None:
    assert req.oid is not None
    oid = req.oid
    declared = req.headers.get("content-length")
    size = int(declared) if declared and declared.isdigit() else None

    def check() -> None:
        with platform.session() as db:
            authorize_git(db, actor=git_actor(db, req), owner=req.owner, name=req.name, write=True)

    await git.in_thread(check)  # refuse before reading a possibly huge body
    tmp = platform.settings.data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="lfs-", dir=tmp)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in req.chunks():
                await asyncio.to_thread(f.write, chunk)

        def work() -> int:
            with platform.session() as db:
                return service.store_object(
                    db,
                    actor=git_actor(db, req),
                    owner=req.owner,
                    name=req.name,
                    oid=oid,
                    size=size,
                    source=path,
                )

        await git.in_thread(work)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _download(git: GitHttp, platform: Platform, req: Request, send: Send) -> None:
    assert req.oid is not None
    oid = req.oid

    def work() -> tuple[Any, int]:
        with platform.session() as db:
            return service.open_object(
                db, actor=git_actor(db, req), owner=req.owner, name=req.name, oid=oid
            )

    stream, size = await git.in_thread(work)
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/octet-stream"),
                    (b"content-length", str(size).encode()),
                ],
            }
        )
        if req.method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        while chunk := await asyncio.to_thread(stream.read, CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        stream.close()
