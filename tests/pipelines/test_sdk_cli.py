"""``project.pipelines`` in the SDK, ``platform pipelines …`` on the command line, the REST
routes' input checks, the schedule loop and merge-request runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.cli import main
from platform_sdk.core.access import Actor
from platform_sdk.git.repos import repo_path
from platform_sdk.pipelines.models import Pipeline, TriggerKind
from platform_sdk.pipelines.schedule import Scheduler
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.pipelines.helpers import commit_files, make_project
from tests.plugins.platforms import People

TWO_STEPS = """\
pipeline:
  on:
    manual: {parameters: {WHO: {default: world}}}
    schedule: [{cron: "*/5 * * * *", branch: main}]
  steps:
    - name: build
      commands: ["mkdir -p dist", "echo hello $WHO > dist/hello.txt", "cat dist/hello.txt"]
      artifacts: ["dist/hello.txt"]
    - name: test
      depends_on: [build]
      commands: ["grep hello dist/hello.txt"]
"""


@pytest.fixture
def dev(people: People) -> Actor:
    return people.user("dev", roles=("developer",))


def test_sdk_trigger_wait_steps_logs_stream_artifacts(
    platform: Platform, people: People, dev: Actor, tmp_path: Path
) -> None:
    make_project(people, dev, "app", {".platform.yaml": TWO_STEPS})
    sdk = Platform(platform.settings, user="dev")
    try:
        project = sdk.projects.get("dev/app")
        run = project.pipelines.trigger("main", {"WHO": "sdk"})
        assert run.number == 1
        assert run.status == "pending"
        run.wait(timeout=60)
        assert run.succeeded
        assert list(run.steps) == ["build", "test"]
        assert "hello sdk" in run.steps["build"].logs()
        [artifact] = run.artifacts
        assert artifact.name == "dist/hello.txt"
        assert artifact.read() == b"hello sdk\n"
        assert artifact.download(tmp_path / "out").read_text() == "hello sdk\n"
        events = list(run.stream(timeout=30))
        assert events[-1].kind == "end"
        assert events[-1].data["run"] == "success"
        assert any(e.kind == "log" and "hello sdk" in e.data["text"] for e in events)
        again = run.rerun()
        assert again.number == 2
        assert again.parameters == {"WHO": "sdk"}
        assert again.wait(timeout=60).succeeded
        assert [r.number for r in project.pipelines.list()] == [2, 1]
        assert project.pipelines.latest().number == 2  # type: ignore[union-attr]
        assert repr(project.pipelines.get(1)) == "<PipelineRun 1>"
    finally:
        sdk.close()


def _cli(platform: Platform, *args: str) -> tuple[int, str, str]:
    env = {"DATABASE_URL": platform.settings.resolved_database_url}
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(platform.settings.data_dir), "--as", "dev", *args],
        env=env,
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def test_cli_run_list_show_logs_cancel_and_lint(
    platform: Platform, people: People, dev: Actor, tmp_path: Path
) -> None:
    make_project(people, dev, "app", {".platform.yaml": TWO_STEPS})
    code, out, _ = _cli(platform, "pipelines", "run", "dev/app", "--param", "WHO=cli", "--wait")
    assert code == 0, out
    assert "success" in out
    code, out, _ = _cli(platform, "pipelines", "list", "dev/app", "--json")
    assert code == 0
    [listed] = json.loads(out)
    assert listed["number"] == 1
    assert listed["status"] == "success"
    code, out, _ = _cli(platform, "pipelines", "show", "dev/app", "1")
    assert code == 0
    assert "build" in out
    assert "test" in out
    code, out, _ = _cli(platform, "pipelines", "logs", "dev/app", "1", "--step", "build")
    assert code == 0
    assert "[build] hello cli" in out
    code, out, _ = _cli(platform, "pipelines", "logs", "dev/app", "1", "--follow")
    assert code == 0
    assert "[test] + grep hello dist/hello.txt" in out
    code, out, _ = _cli(platform, "pipelines", "run", "dev/app", "--param", "nokey")
    assert code != 0
    code, out, _ = _cli(platform, "pipelines", "run", "dev/app", "--json")
    assert code == 0
    number = json.loads(out)["number"]
    code, out, _ = _cli(platform, "pipelines", "cancel", "dev/app", str(number))
    assert code == 0
    assert "cancelled" in out
    code, out, _ = _cli(platform, "pipelines", "cancel", "dev/app", str(number))
    assert code != 0

    good = tmp_path / "good.yaml"
    good.write_text(TWO_STEPS)
    code, out, _ = _cli(platform, "pipelines", "lint", str(good))
    assert code == 0
    assert "2 steps: build, test" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "pipeline:\n  steps:\n    - name: a\n      commands: [x]\n      depends_on: [b]\n"
    )
    code, _, err = _cli(platform, "pipelines", "lint", str(bad))
    assert code == 1
    assert "bad.yaml:5" in err
    assert "b" in err
    code, _, err = _cli(platform, "pipelines", "lint", str(tmp_path / "missing.yaml"))
    assert code != 0


def test_rest_routes_check_input(platform: Platform, people: People, dev: Actor) -> None:
    make_project(people, dev, "app", {".platform.yaml": TWO_STEPS})
    h = people.auth(people.token(dev))
    base = "/api/projects/dev/app/pipelines"
    with TestClient(create_app(platform)) as c:
        r = c.post(base, json={"ref": "main", "parameters": {"bad name": "x"}}, headers=h)
        assert r.status_code == 422
        r = c.post(base, json={"ref": "main", "nope": 1}, headers=h)
        assert r.status_code == 422
        r = c.post(base, json={"ref": "no-such-branch"}, headers=h)
        assert r.status_code == 404
        assert "no-such-branch" in r.json()["error"]["message"]
        r = c.post(base, json={"ref": "--upload-pack=evil"}, headers=h)
        assert r.status_code == 422
        r = c.post(base, json={"ref": "main"}, headers=h)
        assert r.status_code == 201
        number = r.json()["number"]
        assert c.get(f"{base}/{number}", headers=h).json()["steps"][0]["name"] == "build"
        assert c.get(f"{base}/999", headers=h).status_code == 404
        r = c.get(f"{base}/{number}/logs", params={"step": "nope"}, headers=h)
        assert r.status_code == 404
        r = c.get(f"{base}/{number}/artifacts/download", params={"name": "x"}, headers=h)
        assert r.status_code == 404
        r = c.post(
            "/api/pipelines/lint",
            content="pipeline:\n  steps: []\n",
            headers={**h, "Content-Type": "text/plain"},
        )
        assert r.status_code == 422
        assert ".platform.yaml:2" in r.json()["error"]["message"]
        r = c.post(
            "/api/pipelines/lint", content=TWO_STEPS, headers={**h, "Content-Type": "text/plain"}
        )
        assert r.status_code == 200
        assert r.json()["steps"] == ["build", "test"]


def test_schedule_queues_each_fire_time_once(
    platform: Platform, people: People, dev: Actor
) -> None:
    make_project(people, dev, "app", {".platform.yaml": TWO_STEPS})
    start = datetime(2026, 1, 1, 10, 1, tzinfo=UTC)
    first, second = Scheduler(platform, start=start), Scheduler(platform, start=start)
    assert first.tick(start + timedelta(minutes=3)) == 0  # no */5 time in (10:01, 10:04]
    assert first.tick(start + timedelta(minutes=10)) == 2  # 10:05 and 10:10
    second.tick(start + timedelta(minutes=10))  # another process: the same times, not again
    with platform.session() as db:
        scheduled = db.scalars(select(Pipeline).where(Pipeline.trigger == TriggerKind.SCHEDULE))
        rows = list(scheduled)
    assert len(rows) == 2
    assert {r.ref for r in rows} == {"refs/heads/main"}


def test_merge_requests_start_runs_when_opened_and_updated(
    platform: Platform, people: People, dev: Actor
) -> None:
    mr_only = """\
pipeline:
  on:
    merge_request: {actions: [opened, updated]}
  steps:
    - name: check
      commands: ["true"]
"""
    bare = make_project(people, dev, "app", {".platform.yaml": mr_only})
    commit_files(bare, {"feature.txt": "x"}, branch="feature")
    from platform_sdk.git.mr_schemas import MergeRequestCreate
    from platform_sdk.git.services import merge_requests

    with platform.session() as db:
        merge_requests.create_merge_request(
            db,
            actor=dev,
            project="dev/app",
            body=MergeRequestCreate(title="Feature", source_branch="feature", target_branch="main"),
        )
    with platform.session() as db:
        runs = list(db.scalars(select(Pipeline)))
    assert [(r.trigger, r.ref) for r in runs] == [(TriggerKind.MERGE_REQUEST, "refs/heads/feature")]
    assert runs[0].merge_request_id is not None
    assert repo_path(platform.settings, "dev", "app") == bare

    # a push to the source branch is an "updated" merge request run (and no push run: the
    # definition only asks for merge requests)
    before = runs[0].commit_sha
    after = commit_files(bare, {"feature.txt": "y"}, branch="feature")
    from platform_sdk.git.push_schemas import RefUpdate
    from platform_sdk.git.services.pushes import record_push

    with platform.session() as db:
        record_push(
            db,
            actor=dev,
            project_id=runs[0].project_id,
            updates=[RefUpdate(ref="refs/heads/feature", before=before, after=after)],
        )
    with platform.session() as db:
        later = list(db.scalars(select(Pipeline).order_by(Pipeline.number)))
    assert [(r.number, r.trigger, r.commit_sha) for r in later][1:] == [
        (2, TriggerKind.MERGE_REQUEST, after)
    ]
