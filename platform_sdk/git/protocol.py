"""Running ``git upload-pack``/``receive-pack --stateless-rpc`` with streamed input and output.

Why not ``git http-backend`` as CGI: it is one more process that only translates CGI into the
same two commands; running them directly avoids parsing CGI response headers, lets the
handler choose the environment (``GIT_PROTOCOL``, hooks, report file) and the command line
(``-c core.hooksPath=…``) itself, and keeps error answers (401/403/404/503) in the platform's
hands before any git process starts.

Memory stays bounded: the request body is copied into the process's stdin chunk by chunk
(gunzipped incrementally when ``Content-Encoding: gzip``), with the pipe's back-pressure
(``drain``), while a concurrent loop copies stdout to the client in chunks as git writes them.
Each process has a wall-clock deadline; past it, or when the client goes away, it is killed.
:class:`Slots` caps how many git processes one server runs at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

from platform_sdk.errors import BadRequest, Unavailable
from platform_sdk.git import hooks
from platform_sdk.git.repos import git_env

__all__ = [
    "CHUNK",
    "GitProcess",
    "Slots",
    "ensure_hooks_dir",
    "gunzip",
    "pkt_line",
]

CHUNK = 256 * 1024
"""Bytes read from git's stdout per message sent to the client."""


def pkt_line(text: str) -> bytes:
    """One pkt-line: four hex digits of length (including themselves), then the data."""
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


class Slots:
    """A non-blocking cap on concurrent git processes: past it, :class:`Unavailable` (503)."""

    def __init__(self, limit: int, *, retry_after: int = 5) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.active = 0

    @contextlib.contextmanager
    def take(self) -> Iterator[None]:
        if self.active >= self.limit:
            raise Unavailable(
                f"too many git operations in progress ({self.limit}); retry shortly",
                retry_after=self.retry_after,
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


HOOK_SCRIPT = "#!/bin/sh\nexec '{python}' -I -S '{script}' {name}\n"


def ensure_hooks_dir(root: Path) -> Path:
    """Write the platform's hook wrappers under ``root`` (idempotent) and return the dir."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("pre-receive", "post-receive"):
        text = HOOK_SCRIPT.format(python=sys.executable, script=hooks.__file__, name=name)
        path = root / name
        if not path.exists() or path.read_text() != text:
            tmp = root / f".{name}.{os.getpid()}"
            tmp.write_text(text)
            tmp.chmod(0o755)
            tmp.replace(path)
    return root


async def gunzip(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Decompress a gzip stream chunk by chunk (never holding more than a chunk's output)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        async for chunk in chunks:
            data = inflater.decompress(chunk, CHUNK)
            while data:
                yield data
                data = inflater.decompress(inflater.unconsumed_tail, CHUNK)
        tail = inflater.flush()
    except zlib.error as exc:
        raise BadRequest(f"request body is not valid gzip: {exc}") from None
    if tail:
        yield tail


class GitProcess:
    """One ``git <service> --stateless-rpc`` process, fed from and read into async streams."""

    def __init__(
        self,
        args: list[str],
        *,
        env: Mapping[str, str],
        timeout: float,
    ) -> None:
        self.args = args
        self.env = env
        self.timeout = timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = b""
        self.timed_out = False

    async def start(self) -> None:
        binary = shutil.which("git")
        if binary is None:
            raise Unavailable("git is not installed on this server")
        self.proc = await asyncio.create_subprocess_exec(
            binary,
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=git_env(self.env),
        )

    async def _feed(self, body: AsyncIterator[bytes] | None) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        stdin = self.proc.stdin
        try:
            if body is not None:
                async for chunk in body:
                    stdin.write(chunk)
                    await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # git stopped reading (it answers with an error on stdout)
        finally:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                stdin.close()

    async def _drain_stderr(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        kept = bytearray()
        while chunk := await self.proc.stderr.read(CHUNK):
            if len(kept) < 16 * 1024:
                kept += chunk
        self.stderr = bytes(kept)

    async def output(self, body: AsyncIterator[bytes] | None) -> AsyncIterator[bytes]:
        """Feed ``body`` to stdin while yielding stdout; kill the process on any exit path."""
        if self.proc is None:
            await self.start()
        assert self.proc is not None
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        feeder = asyncio.create_task(self._feed(body))
        errs = asyncio.create_task(self._drain_stderr())
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                chunk = await asyncio.wait_for(self.proc.stdout.read(CHUNK), remaining)
                if not chunk:
                    break
                yield chunk
            await asyncio.wait_for(self.proc.wait(), max(deadline - loop.time(), 0.1))
            await feeder
        except TimeoutError:
            self.timed_out = True
        finally:
            if self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeder
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(errs, 5)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode
