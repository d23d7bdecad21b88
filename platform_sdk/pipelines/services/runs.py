"""Pipeline runs: trigger, list, show, cancel, re-run — each authorized in here.

Reading a run needs read access to its project (``NotFound`` otherwise, like every project
read); triggering, cancelling and re-running need ``project:write``. Runs started by events
(pushes, merge requests, the schedule) are queued by :mod:`platform_sdk.pipelines.planning`
from the event subscribers; a manual trigger goes through the same planner.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core import audit, events
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.ratelimit import Rate, hit
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import BadRequest, NotFound, ValidationFailed
from platform_sdk.git.repos import repo_path, run_git
from platform_sdk.pipelines.access import access_run, run_out
from platform_sdk.pipelines.events import run_event
from platform_sdk.pipelines.models import Pipeline, RunStatus, StepStatus, TriggerKind
from platform_sdk.pipelines.planning import DEFINITION_FILE, plan_run
from platform_sdk.pipelines.queue import cancel_pending_steps
from platform_sdk.pipelines.schemas import RunOut, TriggerIn
from platform_sdk.projects.access import access_project, project_label

__all__ = [
    "CANCEL_CHANNEL",
    "cancel_run",
    "get_run",
    "list_runs",
    "rerun",
    "trigger_run",
]

CANCEL_CHANNEL = "pipelines.cancel"


def _resolve_ref(git_dir: Path, ref: str) -> tuple[str, str]:
    """(full ref name, commit) of a branch, tag, full ref or commit SHA."""
    if ref.startswith("-") or any(c in ref for c in " ~^:?*[\\\x00"):
        raise ValidationFailed(f"ref {ref!r} is not a valid ref name", details={"field": "ref"})
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    for full in candidates:
        proc = run_git(
            ["rev-parse", "--verify", "-q", f"{full}^{{commit}}"], git_dir=git_dir, check=False
        )
        if proc.returncode == 0:
            return full, proc.stdout.decode().strip()
    proc = run_git(
        ["rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], git_dir=git_dir, check=False
    )
    if proc.returncode == 0 and len(ref) >= 7:
        return proc.stdout.decode().strip(), proc.stdout.decode().strip()
    raise NotFound(f"ref {ref} not found in the repository")


def _limit_triggers(db: Session, actor: Actor, project_id: uuid.UUID) -> None:
    """Manual runs (triggers and re-runs) per user and project: PLATFORM_RATE_PIPELINE_TRIGGERS."""
    rt = runtime_of(db)
    hit(
        rt.bus,
        f"pipeline-trigger:{actor.user_id}:{project_id}",
        Rate.parse(rt.settings.rate_pipeline_triggers),
        "manual pipeline runs of this project",
        "PLATFORM_RATE_PIPELINE_TRIGGERS",
    )


def trigger_run(
    db: Session, *, actor: Actor, project: str | uuid.UUID, body: TriggerIn | None = None
) -> RunOut:
    """Start a manual run of ``body.ref`` (the default branch when omitted)."""
    body = body or TriggerIn()
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    _limit_triggers(db, actor, proj.id)
    label = project_label(db, proj)
    owner, _, name = label.partition("/")
    git_dir = repo_path(runtime_of(db).settings, owner, name)
    full, commit = _resolve_ref(git_dir, body.ref or proj.default_branch)
    run = plan_run(
        db,
        proj,
        git_dir=git_dir,
        trigger=TriggerKind.MANUAL,
        ref=full,
        commit=commit,
        triggered_by=actor.user_id,
        parameters=body.parameters,
    )
    if run is None:
        raise BadRequest(f"{label} has no {DEFINITION_FILE} at {body.ref or proj.default_branch}")
    audit.record(
        db,
        actor,
        "pipeline.trigger",
        target_type="pipeline",
        target_id=run.id,
        project_id=proj.id,
        via=via,
        details={"number": run.number, "ref": full, "commit": commit},
    )
    db.flush()
    return run_out(db, run, label=label)


def list_runs(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID,
    page: PageParams | None = None,
    status: RunStatus | None = None,
    ref: str | None = None,
) -> Page[RunOut]:
    """The project's runs, newest first, optionally of one status or ref (branch names match
    ``refs/heads/<name>``)."""
    proj, _ = access_project(db, actor, project)
    label = project_label(db, proj)
    stmt = select(Pipeline).where(Pipeline.project_id == proj.id)
    if status is not None:
        stmt = stmt.where(Pipeline.status == status)
    if ref:
        stmt = stmt.where(Pipeline.ref.in_([ref, f"refs/heads/{ref}", f"refs/tags/{ref}"]))
    stmt = stmt.order_by(Pipeline.number.desc())
    return paginate(
        db, stmt, page or PageParams(), lambda r: run_out(db, r, steps=False, label=label)
    )


def get_run(db: Session, *, actor: Actor, project: str | uuid.UUID, number: int) -> RunOut:
    _, run, _ = access_run(db, actor, project, number)
    return run_out(db, run)


def cancel_run(db: Session, *, actor: Actor, project: str | uuid.UUID, number: int) -> RunOut:
    """Cancel a pending or running run: pending steps are cancelled now, running ones are
    stopped by their workers (process group or pod killed) within a moment."""
    proj, run, via = access_run(db, actor, project, number, need=Perm.PROJECT_WRITE)
    run.status = run.status.transition(RunStatus.CANCELLED)
    now = utcnow()
    run.finished_at = now
    cancel_pending_steps(db, run, StepStatus.CANCELLED, now)
    audit.record(
        db,
        actor,
        "pipeline.cancel",
        target_type="pipeline",
        target_id=run.id,
        project_id=proj.id,
        via=via,
        details={"number": run.number},
    )
    db.flush()
    run_event(db, run, "cancelled", actor)
    events.emit(db, CANCEL_CHANNEL, {"run_id": str(run.id)})
    return run_out(db, run)


def rerun(db: Session, *, actor: Actor, project: str | uuid.UUID, number: int) -> RunOut:
    """A new manual run of the same commit and parameters."""
    proj, run, via = access_run(db, actor, project, number, need=Perm.PROJECT_WRITE)
    _limit_triggers(db, actor, proj.id)
    label = project_label(db, proj)
    owner, _, name = label.partition("/")
    new = plan_run(
        db,
        proj,
        git_dir=repo_path(runtime_of(db).settings, owner, name),
        trigger=TriggerKind.MANUAL,
        ref=run.ref,
        commit=run.commit_sha,
        triggered_by=actor.user_id,
        parameters={str(k): str(v) for k, v in (run.parameters or {}).items()},
    )
    if new is None:
        raise BadRequest(f"the commit of pipeline #{number} has no {DEFINITION_FILE} any more")
    audit.record(
        db,
        actor,
        "pipeline.rerun",
        target_type="pipeline",
        target_id=new.id,
        project_id=proj.id,
        via=via,
        details={"number": new.number, "of": run.number},
    )
    db.flush()
    return run_out(db, new, label=label)
