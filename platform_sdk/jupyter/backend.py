"""What the sidebar's handlers ask of a platform, answered by the embedded SDK.

:class:`Backend` is the one contract the handlers call; :class:`EmbeddedBackend` answers it
with the SDK objects of ``ps.open(data_dir, user=…)`` — every read goes through the services
as that user, so RBAC applies (a project the user may not read is ``NotFound``).
:class:`~platform_sdk.jupyter.remote.RemoteBackend` answers the same over the REST API.
Every method is blocking; the handlers run them in a thread.
"""

from __future__ import annotations

import threading
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from platform_sdk.pipelines.schemas import RunStatus

if TYPE_CHECKING:
    from platform_sdk.jupyter.config import PlatformConfig
    from platform_sdk.sdk import Platform

__all__ = ["Backend", "EmbeddedBackend", "make_backend", "run_logs_body"]

Json = dict[str, Any]


class Backend(Protocol):
    """The platform as the sidebar sees it: JSON-ready dicts, platform errors on failure."""

    def config(self) -> Json: ...

    def projects(self, limit: int) -> list[Json]: ...

    def runs(self, project: str, limit: int) -> list[Json]: ...

    def run_logs(self, project: str, number: int) -> Json: ...

    def merge_requests(self, project: str, limit: int) -> list[Json]: ...

    def alerts(self, project: str, limit: int) -> list[Json]: ...

    def sessions(self, project: str, limit: int) -> Json: ...

    def close(self) -> None: ...


def run_logs_body(run: Json, logs: dict[str, str]) -> Json:
    """The logs route's answer: the run, and each step with its status and whole log."""
    steps = [
        {
            "name": s["name"],
            "status": s["status"],
            "attempt": s["attempt"],
            "exit_code": s["exit_code"],
            "log": logs.get(s["name"], ""),
        }
        for s in run.get("steps", [])
    ]
    summary = {k: v for k, v in run.items() if k != "steps"}
    done = RunStatus(run["status"]).is_terminal
    return {"run": summary, "steps": steps, "done": done}


NO_SESSIONS_API = {
    "items": [],
    "available": False,
    "message": "Agent sessions are not available on this platform yet.",
}


class EmbeddedBackend:
    """The embedded platform of ``config`` (opened on first use), acting as its user."""

    def __init__(self, config: PlatformConfig) -> None:
        self._config = config
        self._platform: Platform | None = None
        self._lock = threading.Lock()

    @property
    def platform(self) -> Platform:
        with self._lock:
            if self._platform is None:
                import platform_sdk as ps

                extra: dict[str, Any] = {}
                if self._config.database_url:
                    extra["database_url"] = self._config.database_url
                self._platform = ps.open(
                    self._config.data_dir or None, user=self._config.user or None, **extra
                )
            return self._platform

    def config(self) -> Json:
        plat = self.platform
        settings = plat.settings
        base = self._config.dashboards_url or settings.public_url or f"http://{settings.listen}"
        return {
            "mode": "embedded",
            "user": plat.actor.username,
            "platform_url": base.rstrip("/"),
            "poll_interval": self._config.poll_interval,
        }

    def projects(self, limit: int) -> list[Json]:
        return [p.to_dict() for p in islice(self.platform.projects.list(), limit)]

    def runs(self, project: str, limit: int) -> list[Json]:
        runs = self.platform.projects.get(project).pipelines.list()
        return [r.to_dict() for r in islice(runs, limit)]

    def run_logs(self, project: str, number: int) -> Json:
        run = self.platform.projects.get(project).pipelines.get(number)
        steps = run.steps  # refreshes the run
        logs = {name: step.logs() for name, step in steps.items() if step.attempt > 0}
        return run_logs_body(run.to_dict(), logs)

    def merge_requests(self, project: str, limit: int) -> list[Json]:
        mrs = self.platform.projects.get(project).merge_requests.list(state="open")
        return [m.to_dict() for m in islice(mrs, limit)]

    def alerts(self, project: str, limit: int) -> list[Json]:
        full_name = self.platform.projects.get(project).full_name
        events = self.platform.observe.alerts.events.list(project=full_name, state="firing")
        return [e.to_dict() for e in islice(events, limit)]

    def sessions(self, project: str, limit: int) -> Json:
        self.platform.projects.get(project)  # NotFound for a project the user may not read
        return dict(NO_SESSIONS_API)

    def close(self) -> None:
        with self._lock:
            if self._platform is not None:
                self._platform.close()
                self._platform = None


def make_backend(config: PlatformConfig) -> Backend:
    """The remote backend when a URL is configured, the embedded one otherwise."""
    if config.remote:
        from platform_sdk.jupyter.remote import RemoteBackend

        return RemoteBackend(config)
    return EmbeddedBackend(config)
