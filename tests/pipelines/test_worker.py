"""The worker and the queue: DAG order, retries, timeouts, cancel, and two workers sharing one
database without running any step twice. Runs are started manually on repositories whose
commits are written straight into the bare repository; workers run in this process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from platform_sdk.core.access import Actor
from platform_sdk.errors import BadRequest, IllegalTransition
from platform_sdk.pipelines.runtime.local import LocalRuntime
from platform_sdk.pipelines.schemas import TriggerIn
from platform_sdk.pipelines.services import runs, steps
from platform_sdk.pipelines.worker import PipelineWorker
from platform_sdk.sdk import Platform
from tests.pipelines.helpers import commit_files, make_project, wait_for
from tests.pipelines.runtime.local_fixtures import (
    TIMEOUTS,
    assert_none_running,
    marker,
    wait_running,
)
from tests.plugins.platforms import People


def _trigger(platform: Platform, actor: Actor, project: str, **kw: object) -> int:
    with platform.session() as db:
        return runs.trigger_run(db, actor=actor, project=project, body=TriggerIn(**kw)).number  # type: ignore[arg-type]


@pytest.fixture
def dev(people: People) -> Actor:
    return people.user("dev", roles=("developer",))


def _log(platform: Platform, actor: Actor, number: int, step: str) -> str:
    with platform.session() as db:
        return steps.step_log(db, actor=actor, project="dev/app", number=number, step=step).text


def test_matrix_when_parameters_and_retries(platform: Platform, people: People, dev: Actor) -> None:
    definition = """\
pipeline:
  on:
    manual: {parameters: {TARGET: {default: staging}}}
  steps:
    - name: test
      matrix: {PY: ["3.11", "3.12"]}
      commands: ["echo py=$PY target=$TARGET"]
    - name: flaky
      retries: 2
      commands:
        - "n=$(cat /tmp/none 2>/dev/null || true)"
        - "test -f attempt-$PLATFORM_STEP_ATTEMPT.ok || { touch attempt-2.ok; exit 1; }"
    - name: only-tags
      when: {event: [tag]}
      commands: ["echo never"]
    - name: after
      depends_on: [test, only-tags]
      commands: ["echo after"]
"""
    make_project(people, dev, "app", {".platform.yaml": definition})
    number = _trigger(platform, dev, "dev/app", parameters={"TARGET": "prod"})
    worker = PipelineWorker(platform, worker_id="w1", max_parallel=2)
    try:
        worker.drive(_run_id(platform, dev, number), timeout=60)
    finally:
        worker.shutdown()
    run = wait_for(platform, dev, "dev/app", number)
    by = {s.name: s for s in run.steps}
    matrix = sorted(n for n in by if n.startswith("test"))
    assert len(matrix) == 2
    assert {by[n].status for n in matrix} == {"success"}
    logs = sorted(_log(platform, dev, number, n).strip().splitlines()[-1] for n in matrix)
    assert logs == ["py=3.11 target=prod", "py=3.12 target=prod"]
    assert by["only-tags"].status == "skipped"
    assert by["after"].status == "success"  # a skipped dependency does not block
    assert by["flaky"].status == "success"
    assert by["flaky"].attempt == 2
    assert run.status == "success"


def _run_id(platform: Platform, actor: Actor, number: int) -> object:
    with platform.session() as db:
        return runs.get_run(db, actor=actor, project="dev/app", number=number).id


def test_a_timeout_kills_the_process_group(platform: Platform, people: People, dev: Actor) -> None:
    mark = marker()  # looked for in the host's process list: the step is sandboxed
    bare = make_project(people, dev, "app", {"README.md": "timeouts"})
    worker = PipelineWorker(platform, worker_id="w1", max_parallel=1)
    try:
        # The step must start its child before the timeout stops it; on a loaded machine a
        # short timeout can win that race, so it doubles until the step got that far.
        for timeout in TIMEOUTS:
            definition = f"""\
pipeline:
  steps:
    - name: slow
      timeout: {timeout}s
      commands: ["sleep {mark} & echo child started; wait"]
"""
            commit_files(bare, {".platform.yaml": definition})
            number = _trigger(platform, dev, "dev/app")
            worker.drive(_run_id(platform, dev, number), timeout=60)
            run = wait_for(platform, dev, "dev/app", number)
            assert run.status == "failure"
            assert run.steps[0].status == "failure"
            text = _log(platform, dev, number, "slow")
            assert f"timed out after {timeout} s" in text
            assert_none_running(mark)  # the step's background child did not survive it
            if "child started" in text:
                break
        else:
            pytest.fail(f"the step never started its child within {TIMEOUTS[-1]} s")
    finally:
        worker.shutdown()


CANCEL_DEADLINE = 20.0
"""How long a cancelled step may take to stop: far below its own timeout (the run's 1 h), so
only the cancel — not the timeout — can stop it in time."""


def test_cancel_stops_a_running_step_long_before_its_timeout(
    platform: Platform, people: People, dev: Actor
) -> None:
    mark = marker()  # looked for in the host's process list: the step is sandboxed
    definition = f"""\
pipeline:
  steps:
    - name: slow
      commands: ["sleep {mark} & wait"]
"""
    make_project(people, dev, "app", {".platform.yaml": definition})
    number = _trigger(platform, dev, "dev/app")
    worker = PipelineWorker(platform, worker_id="w1", max_parallel=1, poll=0.05)
    halt = threading.Event()
    loop = threading.Thread(target=worker.loop, args=(halt,))
    loop.start()
    try:
        wait_running(mark)
        with platform.session() as db:
            step = runs.get_run(db, actor=dev, project="dev/app", number=number).steps[0]
        assert step.status == "running"
        with platform.session() as db:
            out = runs.cancel_run(db, actor=dev, project="dev/app", number=number)
        assert out.status == "cancelled"
        assert_none_running(mark, timeout=CANCEL_DEADLINE)  # cancel left none of it running
        deadline = time.monotonic() + CANCEL_DEADLINE
        while True:
            with platform.session() as db:
                run = runs.get_run(db, actor=dev, project="dev/app", number=number)
            if run.steps[0].status != "running":
                break
            assert time.monotonic() < deadline, "the cancelled step is still running"
            time.sleep(0.05)
        assert run.status == "cancelled"
        assert run.steps[0].status == "cancelled"
        assert "cancelled: stopping the step's processes" in _log(platform, dev, number, "slow")
        with platform.session() as db, pytest.raises(IllegalTransition):
            runs.cancel_run(db, actor=dev, project="dev/app", number=number)
    finally:
        halt.set()
        loop.join(60)
    assert not loop.is_alive()


def test_manual_trigger_needs_write_and_a_definition(
    platform: Platform, people: People, dev: Actor
) -> None:
    make_project(people, dev, "app", {"README.md": "no pipeline here"})
    with platform.session() as db, pytest.raises(BadRequest, match=r"no \.platform\.yaml"):
        runs.trigger_run(db, actor=dev, project="dev/app", body=TriggerIn())
    viewer = people.user("viewer", roles=("viewer",))
    from platform_sdk.errors import PermissionDenied

    # a viewer sees the project, so the refusal is 403, not a 404 that hides it
    with platform.session() as db, pytest.raises(PermissionDenied):
        runs.trigger_run(db, actor=viewer, project="dev/app", body=TriggerIn())
    with pytest.raises(ValueError, match="parameter"):
        TriggerIn(parameters={"bad name": "x"})


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_workers_on_postgres_run_100_steps_once_each(
    platform: Platform, tmp_path: Path
) -> None:
    people = People(platform)
    dev = people.user("dev", roles=("developer",))
    ledger = tmp_path / "ledger"
    command = f"echo $PLATFORM_STEP-$PLATFORM_STEP_ATTEMPT >> {ledger}"
    lines = "\n".join(f"    - name: s{i}\n      commands: ['{command}']" for i in range(50))
    make_project(people, dev, "app", {".platform.yaml": f"pipeline:\n  steps:\n{lines}\n"})
    numbers = [_trigger(platform, dev, "dev/app") for _ in range(2)]
    other = Platform(platform.settings)
    # The steps append to one ledger file on the host, which a sandboxed step cannot see: the
    # workers run steps unsandboxed (PLATFORM_LOCAL_SANDBOX=none) to count every execution.
    workspaces = platform.settings.data_dir / "workspaces"
    workers = [
        PipelineWorker(
            plat,
            worker_id=name,
            max_parallel=4,
            poll=0.05,
            runtime=LocalRuntime(workspaces / name, sandbox="none"),
        )
        for plat, name in ((platform, "alpha"), (other, "beta"))
    ]
    halt = threading.Event()
    threads = [threading.Thread(target=w.loop, args=(halt,)) for w in workers]
    for t in threads:
        t.start()
    try:
        finished = [wait_for(platform, dev, "dev/app", n, timeout=120) for n in numbers]
    finally:
        halt.set()
        for t in threads:
            t.join(60)
        other.close()
    assert [r.status for r in finished] == ["success", "success"]
    entries = ledger.read_text().split()
    assert len(entries) == 100
    assert all(e.endswith("-1") for e in entries)  # every step ran exactly one attempt
    from sqlalchemy import select

    from platform_sdk.pipelines.models import PipelineStep

    with platform.session() as db:
        claimed = {s.claimed_by for s in db.scalars(select(PipelineStep))}
    assert claimed == {"alpha", "beta"}
