"""From a commit to a queued run: read ``.platform.yaml``, check the trigger, write the rows.

:func:`plan_run` is shared by every trigger — push and tag events, merge request events,
manual runs and the schedule loop — so they behave the same:

* no ``.platform.yaml`` at the commit: no run (``None``);
* the definition's ``on:`` does not match the event: no run (manual runs always match);
* the file does not validate: a run is still recorded, already ``failure``, with the
  validation errors (file, line, key) as its ``error`` — the pusher is notified and sees why,
  instead of a push that silently started nothing;
* otherwise a ``pending`` run with one step row per planned step (matrix expanded; steps whose
  ``when`` does not match are ``skipped`` at once), numbered from the project's counter.

What the step rows have no column for — artifact patterns, step type, the secrets a step
references, image-build settings — is kept in the run's ``definition`` JSON under ``plan``,
beside the parsed definition itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from platform_sdk.core.types import utcnow
from platform_sdk.errors import ValidationFailed
from platform_sdk.git.repos import run_git
from platform_sdk.pipelines.definition import Definition, expand_steps, parse_definition
from platform_sdk.pipelines.events import run_event
from platform_sdk.pipelines.models import Pipeline, PipelineStep, RunStatus, StepStatus, TriggerKind
from platform_sdk.pipelines.queue import advance_run
from platform_sdk.projects.models import Project

__all__ = ["DEFINITION_FILE", "changed_paths", "plan_run", "read_definition"]

DEFINITION_FILE = ".platform.yaml"
MAX_DEFINITION_BYTES = 256 * 1024


def read_definition(git_dir: Path, commit: str) -> str | None:
    """The text of ``.platform.yaml`` at ``commit``, or ``None`` when the commit has none."""
    proc = run_git(["cat-file", "-s", f"{commit}:{DEFINITION_FILE}"], git_dir=git_dir, check=False)
    if proc.returncode != 0:
        return None
    if int(proc.stdout.strip() or 0) > MAX_DEFINITION_BYTES:
        return "#" * (MAX_DEFINITION_BYTES + 1)  # the parser reports the size
    blob = run_git(["cat-file", "blob", f"{commit}:{DEFINITION_FILE}"], git_dir=git_dir)
    return blob.stdout.decode("utf-8", errors="replace")


def changed_paths(git_dir: Path, before: str | None, after: str) -> list[str] | None:
    """Paths a push changed (``None`` when unknown: a new branch, or too many to list)."""
    if not before or set(before) == {"0"}:
        return None
    proc = run_git(
        ["diff", "--name-only", "--no-renames", "-z", before, after], git_dir=git_dir, check=False
    )
    if proc.returncode != 0:
        return None
    paths = [p for p in proc.stdout.decode("utf-8", errors="replace").split("\0") if p]
    return paths if len(paths) <= 10_000 else None


def _next_number(db: Session, project_id: uuid.UUID) -> int:
    counter = Project.next_pipeline_number
    stmt = (
        update(Project)
        .where(Project.id == project_id)
        .values({counter: counter + 1})
        .returning(counter - 1)
        .execution_options(synchronize_session=False)
    )
    return int(db.execute(stmt).scalar_one())


def _event_name(trigger: TriggerKind) -> str:
    return trigger.value


def plan_run(
    db: Session,
    project: Project,
    *,
    git_dir: Path,
    trigger: TriggerKind,
    ref: str,
    commit: str,
    triggered_by: uuid.UUID | None,
    parameters: dict[str, str] | None = None,
    action: str | None = None,
    paths: Sequence[str] | None = None,
    merge_request_id: uuid.UUID | None = None,
) -> Pipeline | None:
    """Queue a run of ``commit`` if its definition asks for one; see the module docstring."""
    text = read_definition(git_dir, commit)
    if text is None:
        return None
    definition: Definition | None = None
    error: str | None = None
    try:
        definition = parse_definition(text, filename=DEFINITION_FILE)
    except ValidationFailed as exc:
        error = exc.message
    event = _event_name(trigger)
    if definition is not None and not definition.matches(event, ref=ref, action=action):
        return None
    run = Pipeline(
        id=uuid.uuid4(),
        project_id=project.id,
        number=_next_number(db, project.id),
        trigger=trigger,
        ref=ref,
        commit_sha=commit,
        parameters=dict(parameters or {}),
        triggered_by_id=triggered_by,
        merge_request_id=merge_request_id,
    )
    if definition is None:
        run.status = RunStatus.FAILURE
        run.finished_at = utcnow()
        run.error = error
        run.definition = {}
        db.add(run)
        db.flush()
        run_event(db, run, "failed")
        return run
    planned = expand_steps(
        definition,
        event=event,
        ref=ref,
        changed_paths=list(paths) if paths is not None else None,
        parameters=dict(parameters or {}),
    )
    plan: dict[str, Any] = {}
    run.timeout_seconds = definition.timeout_seconds
    db.add(run)
    db.flush()
    images = []
    for step in planned:
        plan[step.name] = {
            "artifacts": list(step.artifacts),
            "type": str(step.type),
            "secrets": dict(step.secret_refs),
            "context": getattr(step, "context", None),
            "dockerfile": getattr(step, "dockerfile", None),
            "destination": getattr(step, "destination", None),
            "network": step.network,
        }
        if getattr(step, "destination", None) and not step.skip:
            images.append(step.destination)
        db.add(
            PipelineStep(
                pipeline_id=run.id,
                name=step.name,
                image=step.image,
                commands=list(step.commands),
                depends_on=list(step.depends_on),
                env=dict(step.env),
                status=StepStatus.SKIPPED if step.skip else StepStatus.PENDING,
                max_retries=step.retries,
                allow_failure=step.allow_failure,
                timeout_seconds=step.timeout_seconds,
                finished_at=utcnow() if step.skip else None,
            )
        )
    run.definition = {"definition": definition.to_dict(), "plan": plan, "images": images}
    db.flush()
    run_event(db, run, "created")
    if all(s.skip for s in planned):
        advance_run(db, run, now=utcnow())
    return run
