"""Short-lived credentials for pods that clone a run's commit (the Kubernetes runtime).

A pod clones over the platform's smart HTTP like any client, so it needs a token that can
read the project and nothing else: :func:`clone_token_minter` answers a function that creates,
for a run, an API token of the user who triggered it (the project's owner for scheduled runs)
with the single scope ``project:read``, bounded to the run's project, expiring with the run's
timeout plus an hour. A token is minted per run and cached until the run's workspace is
cleaned up; expiry retires it even when a worker dies mid-run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.types import utcnow
from platform_sdk.identity.models import User
from platform_sdk.identity.schemas import ApiTokenCreate
from platform_sdk.identity.services.tokens import create_token
from platform_sdk.pipelines.models import Pipeline
from platform_sdk.pipelines.runtime.base import RunSpec
from platform_sdk.projects.models import Project

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["clone_token_minter"]


def clone_token_minter(platform: Platform) -> Callable[[RunSpec], str]:
    cache: dict[uuid.UUID, str] = {}
    lock = threading.Lock()

    def mint(run: RunSpec) -> str:
        with lock:
            if run.run_id in cache:
                return cache[run.run_id]
            with platform.session() as db:
                row = db.get(Pipeline, run.run_id)
                assert row is not None
                project = db.get(Project, row.project_id)
                assert project is not None
                user = db.get(User, row.triggered_by_id or project.owner_id)
                assert user is not None
                actor = Actor(user_id=user.id, username=user.username)
                created = create_token(
                    db,
                    actor=actor,
                    body=ApiTokenCreate(
                        name=f"pipeline {run.project} #{run.number} clone",
                        scopes=[Perm.PROJECT_READ.value],
                        project=run.project,
                        expires_at=utcnow() + timedelta(seconds=row.timeout_seconds + 3600),
                    ),
                )
            cache[run.run_id] = created.token
            if len(cache) > 1000:
                cache.pop(next(iter(cache)))
            return created.token

    return mint
