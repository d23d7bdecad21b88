"""The pipeline queue in the database: claiming steps, finishing them, advancing runs.

These are the worker's primitives, not services: no actor, no RBAC — the worker is the
platform itself. Every function takes the session of one short transaction and the clock as
an argument (``now``), so tests drive retries and timeouts without sleeping.

Claiming. A step is *ready* when it is ``pending``, its run is ``pending`` or ``running``, and
every step it depends on ended in ``success`` or ``skipped`` (or failed with
``allow_failure``). :func:`claim_steps` picks ready steps of the oldest runs, locks them (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, so a second worker skips rows the first is claiming;
SQLite's ``BEGIN IMMEDIATE`` already serializes writers) and claims each with a conditional
``UPDATE … WHERE status = 'pending'``: one row changed means this worker won it. Two processes
therefore never run the same attempt of a step.

Advancing. After a step ends, :func:`advance_run` looks at the whole run: a step that failed
without ``allow_failure`` skips every step still pending; once every step ended the run
becomes ``success`` or ``failure`` and a ``pipeline`` event (``succeeded`` / ``failed``) goes
out after commit — to webhooks, notifications and, for a success on the default branch, a
``deploy`` request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from platform_sdk.pipelines.events import run_event
from platform_sdk.pipelines.models import Pipeline, PipelineStep, RunStatus, StepStatus

__all__ = [
    "ACTIVE_RUN",
    "Claim",
    "advance_run",
    "cancel_pending_steps",
    "claim_steps",
    "expire_runs",
    "finish_step",
    "heartbeat",
    "reap_stale",
    "requeue_step",
]

ACTIVE_RUN = (RunStatus.PENDING, RunStatus.RUNNING)
_DONE_OK = (StepStatus.SUCCESS, StepStatus.SKIPPED)
SCAN_RUNS = 50
"""How many of the oldest active runs one claim looks at."""


@dataclass(frozen=True)
class Claim:
    """A step this worker now runs: ids and the attempt number it claimed."""

    step_id: uuid.UUID
    run_id: uuid.UUID
    attempt: int


def _ready(steps: list[PipelineStep]) -> list[PipelineStep]:
    by_name = {s.name: s for s in steps}
    out = []
    for step in steps:
        if step.status != StepStatus.PENDING:
            continue
        deps = [by_name.get(d) for d in step.depends_on]
        if all(
            d is not None
            and (
                d.status in _DONE_OK
                or (d.allow_failure and d.status in (StepStatus.FAILURE, StepStatus.CANCELLED))
            )
            for d in deps
        ):
            out.append(step)
    return out


def claim_steps(db: Session, *, worker: str, limit: int, now: datetime) -> list[Claim]:
    """Claim up to ``limit`` ready steps for ``worker``; the caller commits."""
    if limit <= 0:
        return []
    run_ids = db.scalars(
        select(Pipeline.id)
        .where(Pipeline.status.in_(ACTIVE_RUN))
        .where(
            select(PipelineStep.id)
            .where(
                PipelineStep.pipeline_id == Pipeline.id,
                PipelineStep.status == StepStatus.PENDING,
            )
            .exists()
        )
        .order_by(Pipeline.created_at, Pipeline.id)
        .limit(SCAN_RUNS)
    ).all()
    if not run_ids:
        return []
    steps = db.scalars(
        select(PipelineStep)
        .where(PipelineStep.pipeline_id.in_(run_ids))
        .order_by(PipelineStep.created_at, PipelineStep.id)
    ).all()
    by_run: dict[uuid.UUID, list[PipelineStep]] = {}
    for s in steps:
        by_run.setdefault(s.pipeline_id, []).append(s)
    candidates = [s.id for rid in run_ids for s in _ready(by_run.get(rid, []))][: limit * 4]
    if not candidates:
        return []
    if db.get_bind().dialect.name == "postgresql":
        candidates = list(
            db.scalars(
                select(PipelineStep.id)
                .where(PipelineStep.id.in_(candidates), PipelineStep.status == StepStatus.PENDING)
                .with_for_update(skip_locked=True)
            ).all()
        )
    claims: list[Claim] = []
    for step_id in candidates:
        if len(claims) >= limit:
            break
        won = db.execute(
            update(PipelineStep)
            .where(PipelineStep.id == step_id, PipelineStep.status == StepStatus.PENDING)
            .values(
                status=StepStatus.RUNNING,
                attempt=PipelineStep.attempt + 1,
                claimed_by=worker,
                claimed_at=now,
                heartbeat_at=now,
                started_at=now,
                finished_at=None,
                exit_code=None,
            )
            .returning(PipelineStep.pipeline_id, PipelineStep.attempt)
            .execution_options(synchronize_session=False)
        ).first()
        if won is None:
            continue
        claims.append(Claim(step_id, won[0], int(won[1])))
    for run_id in {c.run_id for c in claims}:
        run = db.get(Pipeline, run_id)
        if run is not None and run.status == RunStatus.PENDING:
            run.status = RunStatus.PENDING.transition(RunStatus.RUNNING)
            run.started_at = now
            run_event(db, run, "started")
    return claims


def heartbeat(db: Session, *, step_ids: Iterable[uuid.UUID], worker: str, now: datetime) -> None:
    ids = list(step_ids)
    if ids:
        db.execute(
            update(PipelineStep)
            .where(
                PipelineStep.id.in_(ids),
                PipelineStep.claimed_by == worker,
                PipelineStep.status == StepStatus.RUNNING,
            )
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


def _owned(db: Session, step_id: uuid.UUID, worker: str, attempt: int) -> PipelineStep | None:
    """The step if this worker still runs this attempt (a reaper may have taken it back).

    The run's row is locked first: workers finishing steps of one run take turns, so the last
    one to finish sees every other step ended and ends the run (under READ COMMITTED two
    finishers would otherwise each see the other's step still running)."""
    run_id = db.scalar(select(PipelineStep.pipeline_id).where(PipelineStep.id == step_id))
    if run_id is None:
        return None
    db.get(Pipeline, run_id, with_for_update=True, populate_existing=True)
    step = db.get(PipelineStep, step_id, with_for_update=True, populate_existing=True)
    if (
        step is None
        or step.status != StepStatus.RUNNING
        or step.claimed_by != worker
        or step.attempt != attempt
    ):
        return None
    return step


def finish_step(
    db: Session,
    *,
    claim: Claim,
    worker: str,
    status: StepStatus,
    exit_code: int | None,
    now: datetime,
    log_key: str | None = None,
    error: str | None = None,
) -> PipelineStep | None:
    """Record the end of a claimed attempt; a failure with retries left goes back to pending.

    Answers the step, or ``None`` when the attempt was no longer this worker's."""
    step = _owned(db, claim.step_id, worker, claim.attempt)
    if step is None:
        return None
    step.exit_code = exit_code
    step.log_key = log_key or step.log_key
    step.heartbeat_at = now
    run = db.get(Pipeline, step.pipeline_id)
    assert run is not None
    retry = (
        status == StepStatus.FAILURE
        and step.attempt < 1 + step.max_retries
        and run.status in ACTIVE_RUN
    )
    if retry:
        step.status = step.status.transition(StepStatus.PENDING)
        step.claimed_by = None
    else:
        step.status = step.status.transition(status)
        step.finished_at = now
    failed_run = status == StepStatus.FAILURE and not retry and not step.allow_failure
    if error and failed_run and run.error is None:
        run.error = f"step {step.name}: {error}"[:2000]
    db.flush()
    advance_run(db, run, now=now)
    return step


def requeue_step(db: Session, *, claim: Claim, worker: str) -> None:
    """Give an interrupted attempt back (worker shutdown): pending again, attempt not counted."""
    step = _owned(db, claim.step_id, worker, claim.attempt)
    if step is not None:
        step.status = step.status.transition(StepStatus.PENDING)
        step.attempt = max(0, step.attempt - 1)
        step.claimed_by = None


def cancel_pending_steps(db: Session, run: Pipeline, to: StepStatus, now: datetime) -> None:
    for step in db.scalars(
        select(PipelineStep).where(
            PipelineStep.pipeline_id == run.id, PipelineStep.status == StepStatus.PENDING
        )
    ):
        step.status = step.status.transition(to)
        step.finished_at = now


def advance_run(db: Session, run: Pipeline, *, now: datetime) -> None:
    """Skip what can no longer run; end the run once every step ended."""
    if run.status.is_terminal:
        return
    steps = list(db.scalars(select(PipelineStep).where(PipelineStep.pipeline_id == run.id)))
    failed = [
        s
        for s in steps
        if s.status in (StepStatus.FAILURE, StepStatus.CANCELLED) and not s.allow_failure
    ]
    if failed:
        cancel_pending_steps(db, run, StepStatus.SKIPPED, now)
    if any(not s.status.is_terminal for s in steps):
        return
    target = RunStatus.FAILURE if failed else RunStatus.SUCCESS
    if run.status == RunStatus.PENDING and target == RunStatus.SUCCESS:
        run.status = RunStatus.PENDING.transition(RunStatus.RUNNING)  # every step was skipped
        run.started_at = run.started_at or now
    run.status = run.status.transition(target)
    run.finished_at = now
    db.flush()
    run_event(db, run, "succeeded" if target == RunStatus.SUCCESS else "failed")


def reap_stale(db: Session, *, now: datetime, stale_after: timedelta) -> int:
    """Steps whose worker stopped heart-beating: retried if attempts remain, else failed."""
    stale = db.scalars(
        select(PipelineStep)
        .where(
            PipelineStep.status == StepStatus.RUNNING,
            PipelineStep.heartbeat_at < now - stale_after,
        )
        .with_for_update(skip_locked=db.get_bind().dialect.name == "postgresql")
    ).all()
    for step in stale:
        run = db.get(Pipeline, step.pipeline_id)
        assert run is not None
        if step.attempt < 1 + step.max_retries and run.status in ACTIVE_RUN:
            step.status = step.status.transition(StepStatus.PENDING)
            step.claimed_by = None
        else:
            step.status = step.status.transition(StepStatus.FAILURE)
            step.finished_at = now
            run.error = run.error or f"step {step.name}: its worker stopped responding"
            db.flush()
            advance_run(db, run, now=now)
    return len(stale)


def expire_runs(db: Session, *, now: datetime) -> list[uuid.UUID]:
    """Fail runs that outlived their timeout; their running steps are cancelled by workers."""
    out = []
    for run in db.scalars(
        select(Pipeline).where(Pipeline.status == RunStatus.RUNNING, Pipeline.started_at < now)
    ):
        assert run.started_at is not None
        if run.started_at + timedelta(seconds=run.timeout_seconds) > now:
            continue
        cancel_pending_steps(db, run, StepStatus.CANCELLED, now)
        run.status = run.status.transition(RunStatus.FAILURE)
        run.finished_at = now
        run.error = f"the run timed out after {run.timeout_seconds} s"
        db.flush()
        run_event(db, run, "failed")
        out.append(run.id)
    return out


def expired_artifacts(db: Session, *, now: datetime, ttl: timedelta, limit: int = 500) -> list[str]:
    """Delete up to ``limit`` artifact rows older than ``ttl``; answers their blob keys (the
    caller deletes the objects after commit, so a failed commit loses nothing)."""
    from platform_sdk.pipelines.models import Artifact

    rows = db.scalars(
        select(Artifact)
        .where(Artifact.created_at < now - ttl)
        .order_by(Artifact.created_at)
        .limit(limit)
    ).all()
    keys = [r.blob_key for r in rows]
    for row in rows:
        db.delete(row)
    return keys
