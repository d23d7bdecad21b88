"""Every capability's REST router, in the order they appear in ``/openapi.json``.

A capability adds its ``routes.router`` here; ``create_app`` mounts them all. Kept apart from
the app factory so the list of what the server exposes is one short file.
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["all_routers"]


def all_routers() -> list[APIRouter]:
    from platform_sdk.identity.routes import (
        audit,
        auth,
        bindings,
        delegations,
        roles,
        tokens,
        users,
    )
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
        secrets.router,
        audit.router,
    ]
