"""Tornado handlers under ``{base_url}platform/…``: thin, like every route of the platform.

Each parses its path and query, calls one :class:`~platform_sdk.jupyter.backend.Backend`
method in a worker thread (the SDK blocks), and answers JSON. A platform error becomes its
HTTP status with the server's error body (``{"error": {"code", "message"}}``), so a project
the user may not read is a 404 here as everywhere.

=====================================================  ========================================
``GET platform/config``                                mode, user, platform URL, poll interval
``GET platform/projects``                              the user's projects
``GET platform/projects/{owner}/{name}/runs``          recent pipeline runs (``?limit=``)
``GET platform/projects/{owner}/{name}/runs/{n}/logs`` the run with each step's log
``GET platform/projects/{owner}/{name}/merge-requests`` open merge requests
``GET platform/projects/{owner}/{name}/alerts``        firing alert events
``GET platform/projects/{owner}/{name}/sessions``      recent agent sessions (none yet)
=====================================================  ========================================
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from platform_sdk.errors import PlatformError
from platform_sdk.jupyter.backend import Backend

__all__ = ["handlers"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
SEGMENT = r"([^/]+)"


class _Handler(APIHandler):
    """Shared plumbing: the backend, the limit parameter, errors as JSON."""

    backend: Backend

    def initialize(self, backend: Backend) -> None:
        self.backend = backend

    def limit(self) -> int:
        raw = self.get_query_argument("limit", str(DEFAULT_LIMIT))
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= MAX_LIMIT:
            raise tornado.web.HTTPError(400, f"limit: must be between 1 and {MAX_LIMIT}")
        return value

    async def answer(self, fn: Callable[..., Any], /, *args: Any) -> None:
        try:
            body = await asyncio.to_thread(fn, *args)
        except PlatformError as exc:
            self.set_status(exc.status)
            for name, value in exc.headers().items():
                self.set_header(name, value)
            self.finish(json.dumps(exc.to_dict()))
            return
        self.finish(json.dumps(body))


class ConfigHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.backend.config)


class ProjectsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        limit = self.limit()
        await self.answer(lambda: {"items": self.backend.projects(limit)})


class RunsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, owner: str, name: str) -> None:
        limit = self.limit()
        await self.answer(lambda: {"items": self.backend.runs(f"{owner}/{name}", limit)})


class RunLogsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, owner: str, name: str, number: str) -> None:
        await self.answer(self.backend.run_logs, f"{owner}/{name}", int(number))


class MergeRequestsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, owner: str, name: str) -> None:
        limit = self.limit()
        await self.answer(lambda: {"items": self.backend.merge_requests(f"{owner}/{name}", limit)})


class AlertsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, owner: str, name: str) -> None:
        limit = self.limit()
        await self.answer(lambda: {"items": self.backend.alerts(f"{owner}/{name}", limit)})


class SessionsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, owner: str, name: str) -> None:
        limit = self.limit()
        await self.answer(self.backend.sessions, f"{owner}/{name}", limit)


def handlers(backend: Backend) -> list[tuple[str, type[_Handler], dict[str, Any]]]:
    """The routes (the extension app prefixes the server's base URL)."""
    project = url_path_join("platform", "projects", SEGMENT, SEGMENT)
    routes: list[tuple[str, type[_Handler]]] = [
        ("platform/config", ConfigHandler),
        ("platform/projects", ProjectsHandler),
        (url_path_join(project, "runs"), RunsHandler),
        (url_path_join(project, "runs", r"(\d+)", "logs"), RunLogsHandler),
        (url_path_join(project, "merge-requests"), MergeRequestsHandler),
        (url_path_join(project, "alerts"), AlertsHandler),
        (url_path_join(project, "sessions"), SessionsHandler),
    ]
    return [(path, cls, {"backend": backend}) for path, cls in routes]
