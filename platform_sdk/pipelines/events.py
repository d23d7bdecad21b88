"""The events pipelines publish: ``events.pipeline`` for every change of a run's status, and
``events.deploy`` (action ``requested``) when a run succeeds on the project's default branch.

Payload of ``events.pipeline`` (the envelope every domain event shares, plus the run)::

    {"type": "pipeline", "action": "created|started|succeeded|failed|cancelled",
     "project_id", "project", "actor", "actor_id", "run_id", "number", "ref", "commit",
     "status", "trigger", "triggered_by_id", "error", "url", "trace_id"}

``trace_id`` is derived from the run id (the 32 hex digits of its UUID), so the spans and logs
a run emits correlate with the run in the observability views without storing anything more.
The deploy request carries the ref and commit the run built and the images its
``image_build`` steps pushed (``images``), for the deployer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from platform_sdk.core import events
from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.pipelines.models import Pipeline
from platform_sdk.projects.access import project_label
from platform_sdk.projects.models import Project

__all__ = ["DEPLOY_CHANNEL", "PIPELINE_CHANNEL", "run_event", "trace_id_of"]

PIPELINE_CHANNEL = "events.pipeline"
DEPLOY_CHANNEL = "events.deploy"


def trace_id_of(run: Pipeline) -> str:
    return run.id.hex


def run_event(db: Session, run: Pipeline, action: str, actor: Actor | None = None) -> None:
    """Emit ``events.pipeline`` for ``run`` (after commit); a deploy request on success.

    ``actor`` is who caused this change (a cancel, a manual trigger); changes the worker makes
    (started, succeeded, failed) are the platform's own (``system``), so whoever triggered the
    run — ``triggered_by_id`` — is notified of its failure."""
    project = db.get(Project, run.project_id)
    assert project is not None
    label = project_label(db, project)
    base = runtime_of(db).settings.public_url or f"http://{runtime_of(db).settings.listen}"
    payload: dict[str, Any] = {
        "type": "pipeline",
        "action": action,
        "project_id": str(project.id),
        "project": label,
        "actor": actor.username if actor else "system",
        "actor_id": str(actor.user_id) if actor else None,
        "run_id": str(run.id),
        "number": run.number,
        "ref": run.ref,
        "commit": run.commit_sha,
        "status": run.status.value,
        "trigger": run.trigger.value,
        "triggered_by_id": str(run.triggered_by_id) if run.triggered_by_id else None,
        "error": run.error,
        "url": f"{base}/{label}/pipelines/{run.number}",
        "trace_id": trace_id_of(run),
    }
    events.emit(db, PIPELINE_CHANNEL, payload)
    if action == "succeeded" and run.ref == f"refs/heads/{project.default_branch}":
        images = (run.definition or {}).get("images", [])
        events.emit(
            db,
            DEPLOY_CHANNEL,
            {
                **payload,
                "type": "deploy",
                "action": "requested",
                "images": images,
            },
        )
