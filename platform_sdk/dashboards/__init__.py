"""Panel dashboards over the SDK: Observe, Pipelines, Projects and Admin.

Each dashboard is a ``pn.viewable.Viewer`` whose state lives in ``param``\\s, built with a
:class:`~platform_sdk.sdk.Platform` acting as one user; it reads and acts only through that
platform's SDK objects, so it shows and does exactly what the services let that user. Three
ways to use them:

- ``platform serve`` mounts them under ``/dashboards/<name>`` on the same ASGI app, login
  required, each session acting as the logged-in user (:mod:`.serving`);
- ``platform dashboards [--port]`` serves them alone with Panel's server;
- in a notebook, ``p.dashboards.observe()`` (``pipelines``, ``projects``, ``admin``) answers the
  viewer, which renders inline.

Panel, hvPlot and Bokeh come with the ``workbench`` extra; nothing here is imported by the
core package unless a dashboard is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_sdk.dashboards.admin import AdminDashboard
from platform_sdk.dashboards.base import Dashboard
from platform_sdk.dashboards.observe import ObserveDashboard
from platform_sdk.dashboards.pipelines import PipelinesDashboard
from platform_sdk.dashboards.projects import ProjectsDashboard

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = [
    "DASHBOARDS",
    "AdminDashboard",
    "Dashboard",
    "Dashboards",
    "ObserveDashboard",
    "PipelinesDashboard",
    "ProjectsDashboard",
]

DASHBOARDS: dict[str, type[Dashboard]] = {
    "observe": ObserveDashboard,
    "pipelines": PipelinesDashboard,
    "projects": ProjectsDashboard,
    "admin": AdminDashboard,
}


class Dashboards:
    """``p.dashboards``: each dashboard as a viewer over ``p`` (renders inline in Jupyter)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def observe(self, **params: Any) -> ObserveDashboard:
        return ObserveDashboard(platform=self.platform, **params)

    def pipelines(self, **params: Any) -> PipelinesDashboard:
        return PipelinesDashboard(platform=self.platform, **params)

    def projects(self, **params: Any) -> ProjectsDashboard:
        return ProjectsDashboard(platform=self.platform, **params)

    def admin(self, **params: Any) -> AdminDashboard:
        return AdminDashboard(platform=self.platform, **params)

    def __repr__(self) -> str:
        return f"<Dashboards {', '.join(DASHBOARDS)}>"
