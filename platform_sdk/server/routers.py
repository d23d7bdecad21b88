"""What the server runs for each capability: REST routers and background workers.

A capability adds its ``routes.router`` to :func:`all_routers` (in ``/openapi.json`` order)
and its long-running loops to :func:`workers`; ``create_app`` mounts and spawns them all. Kept
apart from the app factory so what the server exposes and runs is one short file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["all_routers", "workers"]


def all_routers() -> list[APIRouter]:
    from platform_sdk.git import mr_routes
    from platform_sdk.git import routes as git_routes
    from platform_sdk.identity.routes import (
        audit,
        auth,
        bindings,
        delegations,
        roles,
        tokens,
        users,
    )
    from platform_sdk.notify.routes import routers as notify_routers
    from platform_sdk.observe import alert_routes, otlp_routes
    from platform_sdk.observe import routes as observe
    from platform_sdk.pipelines import routes as pipelines
    from platform_sdk.projects import issue_routes
    from platform_sdk.projects import routes as projects
    from platform_sdk.secrets import routes as secrets

    return [
        auth.router,
        users.router,
        tokens.router,
        roles.router,
        bindings.router,
        delegations.router,
        projects.router,
        issue_routes.router,
        git_routes.router,
        mr_routes.router,
        pipelines.router,
        pipelines.lint_router,
        secrets.router,
        otlp_routes.router,
        alert_routes.router,
        observe.router,
        *notify_routers,
        audit.router,
    ]


Worker = Callable[[asyncio.Event], Awaitable[None]]


def workers(platform: Platform) -> list[tuple[str, Worker]]:
    """Background loops the server spawns at start and drains at shutdown."""
    from platform_sdk.notify.delivery import DeliveryWorker
    from platform_sdk.notify.dispatch import Dispatcher
    from platform_sdk.observe.alerts import AlertEvaluator
    from platform_sdk.observe.otlp_routes import OtlpListener
    from platform_sdk.observe.telemetry import telemetry_of
    from platform_sdk.pipelines.schedule import Scheduler
    from platform_sdk.pipelines.worker import PipelineWorker

    settings = platform.settings
    loops: list[tuple[str, Worker]] = [
        ("webhook-deliveries", DeliveryWorker(platform).run_forever),
        ("notification-dispatch", Dispatcher(platform).run_forever),
        ("pipeline-schedule", Scheduler(platform).run_forever),
        ("alert-evaluator", AlertEvaluator(platform).run_forever),
    ]
    if settings.pipeline_max_parallel > 0:
        loops.append(("pipeline-steps", PipelineWorker(platform).run_forever))
    telemetry = telemetry_of(platform.runtime)
    if telemetry.owns_spool:  # another process may own this data dir's spool
        loops.append(("telemetry-writer", telemetry.writer.run_forever))
    if settings.otlp_listen:
        loops.append(("otlp-listener", OtlpListener(platform, settings.otlp_listen).run_forever))
    return loops
