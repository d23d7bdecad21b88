"""The ASGI app factory.

FastAPI was chosen over bare Starlette for what the platform needs on every route: one
pydantic schema per resource that validates requests, serialises responses and *is* the
OpenAPI document at ``/openapi.json``. Streaming endpoints (git, OTLP, live logs) stay plain
Starlette under it.

Start-up refuses an outdated schema (naming ``platform db upgrade``); an unreachable database
does not stop start-up — ``/readyz`` says 503 naming it until it comes back, which is what an
orchestrator expects from a readiness probe. Shutdown drains background tasks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from platform_sdk.__about__ import __version__
from platform_sdk.config import Settings, load_settings
from platform_sdk.core.extras import missing_extra
from platform_sdk.core.migrate import ensure_current
from platform_sdk.git.http import GitHttp
from platform_sdk.observe.tracing import TracingMiddleware
from platform_sdk.sdk import Platform
from platform_sdk.server import health
from platform_sdk.server.background import BackgroundTasks
from platform_sdk.server.errors import ERROR_RESPONSES, install_error_handlers
from platform_sdk.server.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    NulGuardMiddleware,
)
from platform_sdk.server.routers import all_routers, workers

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def check_schema_at_start(platform: Platform) -> None:
    """Raise ``SchemaOutdated`` if the database answers with an old schema; warn if it is down."""
    try:
        ensure_current(platform.engine)
    except OperationalError as exc:
        log.warning(
            "database unreachable at start; /readyz answers 503 until it is back",
            extra={"error": str(exc.orig).splitlines()[0] if exc.orig else str(exc)},
        )


def mount_dashboards(app: FastAPI) -> bool:
    """The Panel dashboards under /dashboards, when the workbench extra is installed; without
    it the API still serves, and start-up says once what to install."""
    try:
        from platform_sdk.dashboards.serving import mount
    except ImportError as exc:  # panel or bokeh-fastapi missing
        log.warning(
            "the dashboards are off: %s",
            missing_extra("workbench", "the dashboards", exc).message.partition(": ")[2],
        )
        return False
    mount(app)
    return True


def public_url(settings: Settings) -> str:
    """Where a browser on this machine reaches the server (a wildcard bind means loopback)."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def create_app(platform: Platform | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The server app over ``platform`` (or a platform opened from ``settings`` at start-up)."""
    settings = platform.settings if platform is not None else (settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = platform is None
        plat = Platform(settings) if platform is None else platform
        try:
            check_schema_at_start(plat)
            app.state.platform = plat
            # asyncio objects belong to the loop that made them: each start (a second
            # TestClient, a notebook's server started again) gets tasks of its own loop
            app.state.background = BackgroundTasks()
            for name, worker in workers(plat):
                app.state.background.spawn(name, worker)
            log.info("platform ready", extra=plat.describe())
            url = public_url(settings)
            if app.state.dashboards:
                log.info("dashboards at %s/dashboards/ (sign in as a platform user)", url)
            log.info("API at %s/api (OpenAPI: %s/docs)", url, url)
            yield
        finally:
            cancelled = await app.state.background.drain(settings.shutdown_timeout)
            log.info("platform stopped", extra={"cancelled_tasks": cancelled})
            if owned:
                plat.close()

    app = FastAPI(
        title="Platform",
        version=__version__,
        summary="Git hosting, CI, deploys, agents, observability, secrets and identity.",
        lifespan=lifespan,
    )
    app.state.background = BackgroundTasks()
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    for router in all_routers():
        app.include_router(router, responses=ERROR_RESPONSES)
    app.state.dashboards = mount_dashboards(app)
    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        overrides=[("/v1/", settings.otlp_max_bytes)],
    )
    # git and LFS bodies stream with their own bounds, so git sits outside the body limit
    app.add_middleware(GitHttp)
    app.add_middleware(TracingMiddleware)  # self-telemetry: a span per request, git included
    app.add_middleware(AccessLogMiddleware)
    return app
