"""Pushes, tags and merge requests start pipelines: transactional subscribers on their events.

:func:`install` subscribes to ``events.push`` and ``events.merge_request``; the handlers run
inside the transaction that records the push or the merge request, so the run is queued
atomically with it (and a rolled-back push queues nothing). They read ``.platform.yaml`` at
the pushed commit and let :func:`~platform_sdk.pipelines.planning.plan_run` decide.

* a push to ``refs/heads/…`` is a ``push`` run; to ``refs/tags/…`` a ``tag`` run; deletions
  start nothing;
* a push to the source branch of open merge requests also queues a ``merge_request`` run per
  request with action ``updated``; opening a request queues one with action ``opened``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.runtime import Runtime, runtime_of
from platform_sdk.git.models import MergeRequest, MergeRequestState
from platform_sdk.git.repos import repo_path, run_git
from platform_sdk.pipelines.models import TriggerKind
from platform_sdk.pipelines.planning import changed_paths, plan_run
from platform_sdk.projects.models import Project

__all__ = ["install"]

log = logging.getLogger(__name__)

_INSTALLED = "pipelines.subscribers"


def install(runtime: Runtime) -> None:
    """Register the handlers once per runtime."""
    if runtime.extensions.get(_INSTALLED):
        return
    runtime.extensions[_INSTALLED] = True
    runtime.subscribe("events.push", on_push)
    runtime.subscribe("events.merge_request", on_merge_request)


def _project(db: Session, payload: dict[str, Any]) -> tuple[Project, Any] | None:
    try:
        project = db.get(Project, uuid.UUID(str(payload["project_id"])))
    except (KeyError, ValueError):
        return None
    if project is None or project.deleted_at is not None:
        return None
    owner, _, name = str(payload.get("project", "")).partition("/")
    return project, repo_path(runtime_of(db).settings, owner, name)


def _actor_id(payload: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(payload.get("actor_id")))
    except ValueError:
        return None


def on_push(db: Session, payload: dict[str, Any]) -> None:
    found = _project(db, payload)
    if found is None or payload.get("deleted"):
        return
    project, git_dir = found
    ref, after = str(payload.get("ref", "")), str(payload.get("after", ""))
    if ref.startswith("refs/tags/"):
        trigger, paths = TriggerKind.TAG, None
    elif ref.startswith("refs/heads/"):
        trigger, paths = TriggerKind.PUSH, changed_paths(git_dir, payload.get("before"), after)
    else:
        return
    actor = _actor_id(payload)
    plan_run(
        db,
        project,
        git_dir=git_dir,
        trigger=trigger,
        ref=ref,
        commit=after,
        triggered_by=actor,
        paths=paths,
    )
    if trigger != TriggerKind.PUSH:
        return
    branch = ref.removeprefix("refs/heads/")
    for mr in db.scalars(
        select(MergeRequest).where(
            MergeRequest.project_id == project.id,
            MergeRequest.source_branch == branch,
            MergeRequest.state == MergeRequestState.OPEN,
        )
    ):
        plan_run(
            db,
            project,
            git_dir=git_dir,
            trigger=TriggerKind.MERGE_REQUEST,
            ref=ref,
            commit=after,
            triggered_by=actor,
            action="updated",
            merge_request_id=mr.id,
        )


def on_merge_request(db: Session, payload: dict[str, Any]) -> None:
    if payload.get("action") != "opened":
        return
    found = _project(db, payload)
    if found is None:
        return
    project, git_dir = found
    branch = str(payload.get("source_branch", ""))
    proc = run_git(
        ["rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}"],
        git_dir=git_dir,
        check=False,
    )
    if proc.returncode != 0:
        return
    mr = db.scalar(
        select(MergeRequest).where(
            MergeRequest.project_id == project.id, MergeRequest.number == payload.get("number")
        )
    )
    plan_run(
        db,
        project,
        git_dir=git_dir,
        trigger=TriggerKind.MERGE_REQUEST,
        ref=f"refs/heads/{branch}",
        commit=proc.stdout.decode().strip(),
        triggered_by=_actor_id(payload),
        action="opened",
        merge_request_id=mr.id if mr is not None else None,
    )
