"""One claimed attempt of one step, from the queue row to the recorded end.

Runs in a worker thread (:mod:`platform_sdk.pipelines.worker`). The steps, in order:

1. read the step, its run and project; build the :class:`RunSpec` and :class:`StepSpec` —
   environment: the definition's ``env`` (already merged per step by the planner), standard
   variables (``CI``, ``PLATFORM_*``, ``TRACEPARENT`` with the run's trace id) and the
   secrets the step references, resolved now with scope ``pipeline`` (audited);
2. prepare the run's workspace and run the step, output to a :class:`LogWriter` that masks
   every resolved secret value (the whole substituted value and each raw secret);
3. upload artifacts to ``pipelines/{run}/{step}/artifacts/{name}`` with their sha256;
4. record the end: success, failure (a timeout or a runtime error is a failure with the reason
   as the last log line), cancelled. A failure with retries left goes back to the queue.

A worker shutting down leaves the row alone (the worker gives it back to the queue).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from platform_sdk.core.types import utcnow
from platform_sdk.errors import PlatformError
from platform_sdk.git.repos import repo_path
from platform_sdk.pipelines.events import trace_id_of
from platform_sdk.pipelines.logs import LogWriter
from platform_sdk.pipelines.models import Artifact, Pipeline, PipelineStep, StepStatus
from platform_sdk.pipelines.queue import ACTIVE_RUN, Claim, finish_step
from platform_sdk.pipelines.runtime.base import (
    Outcome,
    RunSpec,
    StepIO,
    StepKind,
    StepResult,
    StepSpec,
)
from platform_sdk.projects.access import project_label
from platform_sdk.projects.models import Project
from platform_sdk.secrets.models import SecretScope
from platform_sdk.secrets.system import resolve_for_runtime

if TYPE_CHECKING:
    from platform_sdk.pipelines.worker import PipelineWorker

__all__ = ["execute_step"]

log = logging.getLogger(__name__)

_SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_STATUS = {
    Outcome.SUCCESS: StepStatus.SUCCESS,
    Outcome.FAILURE: StepStatus.FAILURE,
    Outcome.TIMEOUT: StepStatus.FAILURE,
    Outcome.ERROR: StepStatus.FAILURE,
    Outcome.CANCELLED: StepStatus.CANCELLED,
}


def _standard_env(run: Pipeline, label: str, step: PipelineStep) -> dict[str, str]:
    branch = run.ref.removeprefix("refs/heads/") if run.ref.startswith("refs/heads/") else ""
    tag = run.ref.removeprefix("refs/tags/") if run.ref.startswith("refs/tags/") else ""
    return {
        "CI": "true",
        "PLATFORM": "true",
        "PLATFORM_PROJECT": label,
        "PLATFORM_RUN_ID": str(run.id),
        "PLATFORM_RUN_NUMBER": str(run.number),
        "PLATFORM_STEP": step.name,
        "PLATFORM_STEP_ATTEMPT": str(step.attempt),
        "PLATFORM_COMMIT": run.commit_sha,
        "PLATFORM_REF": run.ref,
        "PLATFORM_BRANCH": branch,
        "PLATFORM_TAG": tag,
        "PLATFORM_TRIGGER": run.trigger.value,
        "TRACEPARENT": f"00-{trace_id_of(run)}-{step.id.hex[:16]}-01",
    }


def _build(db: Any, claim: Claim) -> tuple[RunSpec, StepSpec, list[str]]:
    """The specs of the claimed attempt and the raw secret values to mask."""
    step = db.get(PipelineStep, claim.step_id)
    run = db.get(Pipeline, claim.run_id)
    project = db.get(Project, run.project_id)
    label = project_label(db, project)
    owner, _, name = label.partition("/")
    plan: dict[str, Any] = ((run.definition or {}).get("plan") or {}).get(step.name, {})
    env = {str(k): str(v) for k, v in (step.env or {}).items()}
    refs = sorted({m for v in env.values() for m in _SECRET_REF.findall(v)})
    values = {}
    if refs:
        values = resolve_for_runtime(
            db,
            project_id=project.id,
            names=refs,
            scope=SecretScope.PIPELINE,
            purpose={"runtime": "pipeline", "run": run.number, "step": step.name},
        )
    secrets = {}
    for key in [k for k, v in env.items() if _SECRET_REF.search(v)]:
        secrets[key] = _SECRET_REF.sub(lambda m: values[m.group(1)], env.pop(key))
    env.update(_standard_env(run, label, step))
    kind = StepKind(plan.get("type") or "command")
    if kind == StepKind.IMAGE_BUILD:
        env["PLATFORM_BUILD_CONTEXT"] = str(plan.get("context") or ".")
        env["PLATFORM_BUILD_DOCKERFILE"] = str(plan.get("dockerfile") or "Dockerfile")
        env["PLATFORM_BUILD_DESTINATION"] = str(plan.get("destination") or "")
    settings = db.info["runtime"].settings
    run_spec = RunSpec(
        run_id=run.id,
        number=run.number,
        project=label,
        repo_path=repo_path(settings, owner, name),
        commit_sha=run.commit_sha,
        ref=run.ref,
    )
    timeout = step.timeout_seconds or run.timeout_seconds
    step_spec = StepSpec(
        step_id=step.id,
        name=step.name,
        commands=tuple(step.commands),
        image=step.image,
        kind=kind,
        env=env,
        secrets=secrets,
        timeout_seconds=float(timeout),
        artifacts=tuple(plan.get("artifacts") or ()),
        attempt=claim.attempt,
        network=plan.get("network") != "none",
    )
    return run_spec, step_spec, [*values.values(), *secrets.values()]


def _upload(worker: PipelineWorker, run: RunSpec, step: StepSpec, result: StepResult) -> None:
    blobs = worker.platform.runtime.blobs
    with worker.platform.session() as db:
        for name, path in result.artifacts:
            key = f"pipelines/{run.run_id}/{step.step_id}/artifacts/{name}"
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
            with path.open("rb") as f:
                size = blobs.put(key, f)
            existing = db.scalar(
                select(Artifact).where(Artifact.step_id == step.step_id, Artifact.name == name)
            )
            if existing is not None:
                db.delete(existing)
                db.flush()
            db.add(
                Artifact(
                    pipeline_id=run.run_id,
                    step_id=step.step_id,
                    name=name,
                    blob_key=key,
                    size_bytes=size,
                    sha256=digest.hexdigest(),
                    content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                )
            )
        db.commit()


def execute_step(
    worker: PipelineWorker,
    claim: Claim,
    cancelled: threading.Event,
    shutting_down: Callable[[], bool],
) -> None:
    platform = worker.platform
    writer: LogWriter | None = None
    error: str | None = None
    result: StepResult
    try:
        with platform.session() as db:
            run_spec, step_spec, masked = _build(db, claim)
            db.commit()
        writer = LogWriter(
            platform.runtime.blobs,
            platform.runtime.bus,
            run_id=claim.run_id,
            step_id=claim.step_id,
            attempt=claim.attempt,
            secrets=masked,
        )
        worker.runtime.prepare(run_spec)
        result = worker.runtime.run_step(run_spec, step_spec, StepIO(writer, cancelled))
        if result.artifacts:
            _upload(worker, run_spec, step_spec, result)
    except PlatformError as exc:
        result, error = StepResult(Outcome.ERROR, error=exc.message), exc.message
    except Exception as exc:
        log.exception("pipeline step %s failed to run", claim.step_id)
        result, error = StepResult(Outcome.ERROR, error=str(exc)), f"internal error: {exc}"
    if shutting_down():
        if writer is not None:
            writer.write("[platform] the worker shut down; the step will run again")
            writer.close()
        return
    if writer is None:
        writer = LogWriter(
            platform.runtime.blobs,
            platform.runtime.bus,
            run_id=claim.run_id,
            step_id=claim.step_id,
            attempt=claim.attempt,
        )
    if result.outcome == Outcome.TIMEOUT:
        error = "timed out"
    if error or result.error:
        writer.write(f"[platform] {error or result.error}")
    key = writer.close()
    with platform.session() as db:
        run = db.get(Pipeline, claim.run_id)
        status = _STATUS[result.outcome]
        if status == StepStatus.CANCELLED and run is not None and run.status in ACTIVE_RUN:
            status = StepStatus.FAILURE  # stopped by a run timeout racing the cancel check
        finish_step(
            db,
            claim=claim,
            worker=worker.worker_id,
            status=status,
            exit_code=result.exit_code,
            now=utcnow(),
            log_key=key,
            error=error or result.error,
        )
        db.commit()
        run = db.get(Pipeline, claim.run_id)
        ended = run is None or run.status.is_terminal
        _trace(worker, db, claim, result, error, run if ended else None)
    log.info(
        "pipeline step finished",
        extra={
            "trace_id": claim.run_id.hex,
            "run_id": str(claim.run_id),
            "step_id": str(claim.step_id),
            "outcome": result.outcome.value,
        },
    )
    if ended and claim.run_id not in _others(worker, claim):
        try:
            worker.runtime.cleanup(run_spec_of(worker, claim.run_id))
        except Exception:
            log.warning("could not clean up the workspace of run %s", claim.run_id, exc_info=True)


def _trace(
    worker: PipelineWorker,
    db: Any,
    claim: Claim,
    result: StepResult,
    error: str | None,
    ended_run: Pipeline | None,
) -> None:
    """Self-telemetry: a span for the step and, when the run ended, one for the run."""
    from platform_sdk.observe.selftelemetry import record_run, record_step

    step = db.get(PipelineStep, claim.step_id)
    run = ended_run or db.get(Pipeline, claim.run_id)
    if step is None or run is None:
        return
    project = db.get(Project, run.project_id)
    label = project_label(db, project) if project is not None else "?"
    runtime = worker.platform.runtime
    record_step(
        runtime,
        run_id=run.id,
        project=label,
        number=run.number,
        step=step.name,
        attempt=claim.attempt,
        outcome=result.outcome.value,
        started=step.started_at,
        finished=step.finished_at or utcnow(),
        error=error or result.error,
    )
    if ended_run is not None:
        record_run(
            runtime,
            run_id=run.id,
            project=label,
            number=run.number,
            ref=run.ref,
            status=run.status.value,
            started=run.started_at or run.created_at,
            finished=run.finished_at,
        )


def _others(worker: PipelineWorker, claim: Claim) -> set[uuid.UUID]:
    with worker._lock:
        return {a.claim.run_id for sid, a in worker._active.items() if sid != claim.step_id}


def run_spec_of(worker: PipelineWorker, run_id: uuid.UUID) -> RunSpec:
    with worker.platform.session() as db:
        run = db.get(Pipeline, run_id)
        assert run is not None
        project = db.get(Project, run.project_id)
        assert project is not None
        label = project_label(db, project)
        owner, _, name = label.partition("/")
        return RunSpec(
            run_id=run.id,
            number=run.number,
            project=label,
            repo_path=repo_path(worker.platform.settings, owner, name),
            commit_sha=run.commit_sha,
            ref=run.ref,
        )
