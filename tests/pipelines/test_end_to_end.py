"""Push → pipeline on the local runtime → logs and artifacts in the object store → status.

The real ``git`` client pushes to the live server; the server's pipeline worker runs the steps
as local processes. Nothing here sleeps for a fixed time: each wait polls with a deadline.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from platform_sdk.notify.models import Notification
from platform_sdk.pipelines.models import Pipeline
from platform_sdk.pipelines.schemas import RunOut
from platform_sdk.pipelines.services import runs, steps
from platform_sdk.secrets.service import set_secret
from tests.git.conftest import GitServer, git

SECRET = "s3cr3t-value-42"

PIPELINE = """\
pipeline:
  env: {GREETING: hello}
  steps:
    - name: build
      commands:
        - mkdir -p dist
        - echo "building $GREETING at $PLATFORM_COMMIT" | tee dist/out.txt
        - echo "token is $TOKEN"
      env: {TOKEN: "${{ secrets.API_TOKEN }}"}
      artifacts: ["dist/*.txt"]
    - name: test
      depends_on: [build]
      commands: ["cat dist/out.txt", "test -f dist/out.txt"]
"""


def wait_run(srv: GitServer, actor: object, number: int, timeout: float = 60) -> RunOut:
    deadline = time.monotonic() + timeout
    while True:
        with srv.platform.session() as db:
            run = runs.get_run(db, actor=actor, project="alice/app", number=number)  # type: ignore[arg-type]
        if run.status.is_terminal:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run #{number} still {run.status} after {timeout} s: {run}")
        time.sleep(0.05)


def _push_pipeline(srv: GitServer, work: Path, text: str, message: str) -> None:
    (work / ".platform.yaml").write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)


def test_push_runs_the_pipeline_with_logs_artifacts_and_masked_secrets(
    git_server: GitServer,
) -> None:
    alice, token = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "app")
    with git_server.platform.session() as db:
        set_secret(db, actor=alice, name="API_TOKEN", value=SECRET, project="alice/app")
    work = git_server.workdir() / "app"
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work))
    _push_pipeline(git_server, work, PIPELINE, "add pipeline")

    run = wait_run(git_server, alice, 1)
    assert run.status == "success", run
    assert run.trigger == "push"
    assert run.ref == "refs/heads/main"
    assert [(s.name, s.status) for s in run.steps] == [("build", "success"), ("test", "success")]
    build, test = run.steps
    assert build.finished_at is not None
    assert test.started_at is not None
    assert build.finished_at <= test.started_at  # DAG order

    with git_server.platform.session() as db:
        log = steps.step_log(db, actor=alice, project="alice/app", number=1, step="build")
        assert f"building hello at {run.commit_sha}" in log.text
        assert "token is ***" in log.text
        assert SECRET not in log.text
        test_log = steps.step_log(db, actor=alice, project="alice/app", number=1, step="test")
        assert f"building hello at {run.commit_sha}" in test_log.text
        artifacts = steps.list_artifacts(db, actor=alice, project="alice/app", number=1)
        assert [(a.name, a.step) for a in artifacts] == [("dist/out.txt", "build")]
        _out, f = steps.open_artifact(
            db, actor=alice, project="alice/app", number=1, name="dist/out.txt"
        )
        with f:
            assert f.read() == f"building hello at {run.commit_sha}\n".encode()
    # stored in the object store, never with the secret
    blobs = git_server.platform.runtime.blobs
    keys = list(blobs.list(f"pipelines/{run.id}/"))
    assert any(k.endswith("/artifacts/dist/out.txt") for k in keys)
    logs = [k for k in keys if k.endswith(".log")]
    assert len(logs) == 2
    assert all(SECRET.encode() not in blobs.get(k) for k in logs)

    # the same over HTTP
    h = git_server.people.auth(token)
    base = f"{git_server.base}/api/projects/alice/app/pipelines"
    listed = httpx.get(base, headers=h).json()
    assert [r["number"] for r in listed["items"]] == [1]
    r = httpx.get(f"{base}/1/artifacts/download", params={"name": "dist/out.txt"}, headers=h)
    assert r.status_code == 200
    assert r.content.startswith(b"building hello")
    events = httpx.get(f"{base}/1/events", headers=h, timeout=30).text
    assert "event: end" in events
    assert '"run": "success"' in events
    _, stranger = git_server.user("stranger")
    assert httpx.get(f"{base}/1", headers=git_server.people.auth(stranger)).status_code == 404


def test_a_failing_step_fails_the_run_skips_dependants_and_notifies(
    git_server: GitServer,
) -> None:
    alice, _ = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "app")
    work = git_server.workdir() / "app"
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work))
    failing = """\
pipeline:
  steps:
    - name: lint
      commands: ["echo linting", "exit 3"]
    - name: optional
      commands: ["false"]
      allow_failure: true
    - name: deploy
      depends_on: [lint]
      commands: ["echo should not run"]
"""
    _push_pipeline(git_server, work, failing, "broken")
    run = wait_run(git_server, alice, 1)
    assert run.status == "failure"
    by_name = {s.name: s for s in run.steps}
    assert by_name["lint"].status == "failure"
    assert by_name["lint"].exit_code == 3
    assert by_name["optional"].status == "failure"
    assert by_name["deploy"].status == "skipped"
    assert run.error is not None
    assert "lint" in run.error
    with git_server.platform.session() as db:
        notes = db.scalars(
            select(Notification).where(
                Notification.user_id == alice.user_id, Notification.kind == "pipeline.failed"
            )
        ).all()
    assert len(notes) == 1
    assert "pipeline 1 failed" in notes[0].title


def test_an_invalid_definition_records_a_failed_run_with_the_line(git_server: GitServer) -> None:
    alice, _ = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "app")
    work = git_server.workdir() / "app"
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work))
    _push_pipeline(
        git_server, work, "pipeline:\n  steps:\n    - name: a\n      comands: [x]\n", "typo"
    )
    with git_server.platform.session() as db:
        run = db.scalar(select(Pipeline))
        assert run is not None
        assert run.status == "failure"
        assert ".platform.yaml:4" in (run.error or "")
        assert "comands" in (run.error or "")
