"""Who acts, and the permission catalogue every service checks against.

``Actor`` is what every service function receives as its keyword-only ``actor``. The catalogue
(``Perm``) and the system roles are data the identity capability writes to the database at
``platform init``; services resolve an actor's effective permissions from there.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

__all__ = ["SYSTEM_ROLES", "Actor", "Perm"]


class Perm(enum.StrEnum):
    """The permission catalogue: ``resource:verb``."""

    PROJECT_READ = "project:read"
    PROJECT_WRITE = "project:write"
    PROJECT_DELETE = "project:delete"
    AGENT_RUN = "agent:run"
    DEPLOY_READ = "deploy:read"
    DEPLOY_PROMOTE = "deploy:promote"
    OBSERVE_READ = "observe:read"
    OBSERVE_WRITE = "observe:write"
    ALERT_MANAGE = "alert:manage"
    SECRET_READ = "secret:read"  # noqa: S105 -- a permission name, not a password
    SECRET_WRITE = "secret:write"  # noqa: S105
    ADMIN_USERS = "admin:users"
    ADMIN_ROLES = "admin:roles"
    ADMIN_CONFIG = "admin:config"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Perm.PROJECT_READ: "Read a project: code, issues, merge requests, pipelines",
    Perm.PROJECT_WRITE: "Push code, open and change issues and merge requests, run pipelines",
    Perm.PROJECT_DELETE: "Delete a project",
    Perm.AGENT_RUN: "Start and steer agent sessions",
    Perm.DEPLOY_READ: "See deployments and their history",
    Perm.DEPLOY_PROMOTE: "Sync, promote and roll back deployments",
    Perm.OBSERVE_READ: "Query logs, traces and metrics",
    Perm.OBSERVE_WRITE: "Send telemetry (OTLP ingest)",
    Perm.ALERT_MANAGE: "Create and change alert rules",
    Perm.SECRET_READ: "Resolve secret values (runtimes)",
    Perm.SECRET_WRITE: "Create, update and delete secrets",
    Perm.ADMIN_USERS: "Manage users, agents and their tokens",
    Perm.ADMIN_ROLES: "Manage roles and role bindings",
    Perm.ADMIN_CONFIG: "Change platform-wide settings",
}

_READS = {Perm.PROJECT_READ, Perm.DEPLOY_READ, Perm.OBSERVE_READ}

SYSTEM_ROLES: dict[str, tuple[str, frozenset[Perm]]] = {
    "admin": ("Everything", frozenset(Perm)),
    "developer": (
        "Build and ship: code, pipelines, agents, telemetry, project secrets",
        frozenset(
            _READS
            | {
                Perm.PROJECT_WRITE,
                Perm.AGENT_RUN,
                Perm.OBSERVE_WRITE,
                Perm.ALERT_MANAGE,
                Perm.SECRET_WRITE,
            }
        ),
    ),
    "ops": (
        "Run production: deploys, alerts, secrets",
        frozenset(
            _READS
            | {
                Perm.DEPLOY_PROMOTE,
                Perm.OBSERVE_WRITE,
                Perm.ALERT_MANAGE,
                Perm.SECRET_READ,
                Perm.SECRET_WRITE,
            }
        ),
    ),
    "agent": ("Nothing by itself: agents act through delegation", frozenset()),
    "viewer": ("Read-only", frozenset(_READS)),
}


@dataclass(frozen=True)
class Actor:
    """The user (human or agent) on whose behalf a service call runs.

    ``scopes`` and ``project_id`` narrow what an API token may do; ``None`` means no narrowing.
    """

    user_id: uuid.UUID
    username: str
    is_agent: bool = False
    scopes: frozenset[str] | None = None
    project_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    client_addr: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.username
