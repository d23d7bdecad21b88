"""The sidebar's :class:`~platform_sdk.jupyter.backend.Backend` over a remote platform's REST API.

Used when ``PlatformConfig.url`` is set (until the remote SDK, ``ps.connect``, exists): each
method is one or a few ``GET /api/…`` calls with the configured bearer token. An error answer
becomes the platform error class its ``code`` names, so the handlers map it to the same HTTP
status as in the embedded mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from platform_sdk.errors import DependencyUnavailable, PlatformError, error_class_for_code
from platform_sdk.jupyter.backend import NO_SESSIONS_API, Json, run_logs_body

if TYPE_CHECKING:
    from platform_sdk.jupyter.config import PlatformConfig

__all__ = ["RemoteBackend"]

MAX_PER_PAGE = 100


def _path(project: str) -> str:
    owner, _, name = project.partition("/")
    return f"/api/projects/{quote(owner, safe='')}/{quote(name, safe='')}"


class RemoteBackend:
    """Reads a remote platform as the owner of the configured token."""

    def __init__(self, config: PlatformConfig, transport: httpx.BaseTransport | None = None):
        self._config = config
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
        self._client = httpx.Client(
            base_url=config.url.rstrip("/"), headers=headers, timeout=30, transport=transport
        )

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = self._client.get(path, params=query)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"platform at {self._config.url}: {exc}") from exc
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
            cls = error_class_for_code(error["code"])
            message = str(error.get("message", response.reason_phrase))
        except (ValueError, KeyError, TypeError):
            raise DependencyUnavailable(
                f"platform at {self._config.url} answered {response.status_code}"
            ) from None
        failure = PlatformError.__new__(cls)  # the class only: its __init__ signatures differ
        PlatformError.__init__(failure, message, details=error.get("details"))
        raise failure

    def _items(self, path: str, limit: int, **params: Any) -> list[Json]:
        page = self._get(path, per_page=max(1, min(limit, MAX_PER_PAGE)), **params)
        return list(page["items"])[:limit]

    def config(self) -> Json:
        me = self._get("/api/auth/me")
        base = self._config.dashboards_url or self._config.url
        return {
            "mode": "remote",
            "user": me["user"]["username"],
            "platform_url": base.rstrip("/"),
            "poll_interval": self._config.poll_interval,
        }

    def projects(self, limit: int) -> list[Json]:
        return self._items("/api/projects", limit)

    def runs(self, project: str, limit: int) -> list[Json]:
        return self._items(f"{_path(project)}/pipelines", limit)

    def run_logs(self, project: str, number: int) -> Json:
        base = f"{_path(project)}/pipelines/{int(number)}"
        run: Json = self._get(base)
        logs: dict[str, str] = {}
        for step in run.get("steps", []):
            if step.get("attempt", 0) > 0:
                logs[step["name"]] = str(self._get(f"{base}/logs", step=step["name"])["text"])
        return run_logs_body(run, logs)

    def merge_requests(self, project: str, limit: int) -> list[Json]:
        return self._items(f"{_path(project)}/merge_requests", limit, state="open")

    def alerts(self, project: str, limit: int) -> list[Json]:
        self._get(_path(project))  # NotFound for a project the user may not read
        return self._items("/api/observe/alerts/events", limit, project=project, state="firing")

    def sessions(self, project: str, limit: int) -> Json:
        self._get(_path(project))
        return dict(NO_SESSIONS_API)

    def close(self) -> None:
        self._client.close()
