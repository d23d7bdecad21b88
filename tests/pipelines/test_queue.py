"""The queue's clock-driven rules, with the clock passed in: run timeouts, workers that stop
heart-beating, artifact expiry, and the deploy request a default-branch success publishes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from platform_sdk.core.access import Actor
from platform_sdk.core.types import utcnow
from platform_sdk.pipelines.models import Artifact, Pipeline, PipelineStep, StepStatus
from platform_sdk.pipelines.queue import (
    claim_steps,
    expire_runs,
    expired_artifacts,
    finish_step,
    reap_stale,
)
from platform_sdk.pipelines.schemas import TriggerIn
from platform_sdk.pipelines.services import runs
from platform_sdk.sdk import Platform
from tests.pipelines.helpers import make_project
from tests.plugins.platforms import People

ONE = "pipeline:\n  timeout: 1m\n  steps:\n    - name: a\n      retries: 1\n      commands: [x]\n"


@pytest.fixture
def dev(people: People) -> Actor:
    return people.user("dev", roles=("developer",))


def _run(platform: Platform, people: People, dev: Actor, text: str = ONE) -> int:
    make_project(people, dev, "app", {".platform.yaml": text})
    with platform.session() as db:
        return runs.trigger_run(db, actor=dev, project="dev/app", body=TriggerIn()).number


def test_a_run_past_its_timeout_fails(platform: Platform, people: People, dev: Actor) -> None:
    _run(platform, people, dev, ONE + "    - name: b\n      depends_on: [a]\n      commands: [y]\n")
    now = utcnow()
    with platform.session() as db:
        [claim] = claim_steps(db, worker="w", limit=5, now=now)
        assert expire_runs(db, now=now + timedelta(seconds=59)) == []
        assert expire_runs(db, now=now + timedelta(seconds=61)) == [claim.run_id]
        run = db.get(Pipeline, claim.run_id)
        assert run is not None
        assert run.status == "failure"
        assert run.error == "the run timed out after 60 s"
        statuses = {s.name: s.status for s in db.scalars(select(PipelineStep))}
        assert statuses == {"a": StepStatus.RUNNING, "b": StepStatus.CANCELLED}
        # the worker's late report of the running step does not resurrect the run
        finish_step(db, claim=claim, worker="w", status=StepStatus.SUCCESS, exit_code=0, now=now)
        assert db.get(Pipeline, claim.run_id).status == "failure"  # type: ignore[union-attr]


def test_a_step_whose_worker_went_silent_is_retried_then_failed(
    platform: Platform, people: People, dev: Actor
) -> None:
    _run(platform, people, dev)
    now = utcnow()
    with platform.session() as db:
        [first] = claim_steps(db, worker="dead", limit=5, now=now)
        assert (
            reap_stale(db, now=now + timedelta(seconds=30), stale_after=timedelta(minutes=1)) == 0
        )
        assert (
            reap_stale(db, now=now + timedelta(seconds=61), stale_after=timedelta(minutes=1)) == 1
        )
        step = db.get(PipelineStep, first.step_id)
        assert step is not None
        assert step.status == StepStatus.PENDING  # one retry left
        [second] = claim_steps(db, worker="alive", limit=5, now=now + timedelta(seconds=62))
        assert second.attempt == 2
        # the dead worker's late report is ignored: the attempt is not its any more
        assert (
            finish_step(
                db, claim=first, worker="dead", status=StepStatus.SUCCESS, exit_code=0, now=now
            )
            is None
        )
        assert reap_stale(db, now=now + timedelta(minutes=5), stale_after=timedelta(minutes=1)) == 1
        run = db.get(Pipeline, second.run_id)
        assert run is not None
        assert run.status == "failure"
        assert "stopped responding" in (run.error or "")


def test_expired_artifacts_are_deleted(platform: Platform, people: People, dev: Actor) -> None:
    number = _run(platform, people, dev)
    now = utcnow()
    with platform.session() as db:
        run = db.scalar(select(Pipeline).where(Pipeline.number == number))
        assert run is not None
        for name, age in (("old.txt", 40), ("new.txt", 1)):
            db.add(
                Artifact(
                    pipeline_id=run.id,
                    name=name,
                    blob_key=f"k/{name}",
                    size_bytes=1,
                    sha256="0" * 64,
                    created_at=now - timedelta(days=age),
                )
            )
        db.flush()
        assert expired_artifacts(db, now=now, ttl=timedelta(days=30)) == ["k/old.txt"]
        assert [a.name for a in db.scalars(select(Artifact))] == ["new.txt"]


def test_success_on_the_default_branch_requests_a_deploy(
    platform: Platform, people: People, dev: Actor
) -> None:
    seen: list[dict[str, Any]] = []
    platform.runtime.on("events.deploy", seen.append)
    pipeline: list[dict[str, Any]] = []
    platform.runtime.on("events.pipeline", pipeline.append)
    _run(platform, people, dev)
    now = utcnow()
    with platform.session() as db:
        [claim] = claim_steps(db, worker="w", limit=5, now=now)
        finish_step(db, claim=claim, worker="w", status=StepStatus.SUCCESS, exit_code=0, now=now)
    assert [p["action"] for p in pipeline] == ["created", "started", "succeeded"]
    assert pipeline[-1]["trace_id"] == claim.run_id.hex
    assert pipeline[-1]["actor"] == "system"
    [deploy] = seen
    assert deploy["type"] == "deploy"
    assert deploy["action"] == "requested"
    assert deploy["ref"] == "refs/heads/main"
    assert deploy["project"] == "dev/app"
