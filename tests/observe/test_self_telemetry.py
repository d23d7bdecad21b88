"""The platform records its own HTTP requests, git operations and pipeline runs as spans."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from platform_sdk.observe.selftelemetry import self_telemetry
from platform_sdk.observe.services.query import sql
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.git.conftest import GitServer, git, serve
from tests.pipelines.helpers import wait_for
from tests.plugins.platforms import People


def _spans(platform: Platform, actor: object, where: str) -> list[dict[str, object]]:
    self_telemetry(platform.runtime).flush()
    with platform.session() as db:
        query = f"select name, project, trace_id, parent_span_id, status_code, attributes from spans where {where} order by start, parent_span_id nulls first"  # noqa: S608, E501
        return sql(db, actor=actor, query=query).table.to_pylist()  # type: ignore[arg-type]


@pytest.fixture
def served(platform: Platform, people: People, tmp_path: Path) -> Iterator[GitServer]:
    """The app exactly as ``platform serve`` builds it (git inside, traced)."""
    gen = serve(create_app(platform))  # type: ignore[arg-type]
    port = next(gen)
    try:
        yield GitServer(platform=platform, people=people, app=None, port=port, tmp=tmp_path)  # type: ignore[arg-type]
    finally:
        next(gen, None)


def test_requests_git_and_pipelines_become_spans(served: GitServer) -> None:
    git_server = served
    platform = git_server.platform
    alice, token = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "app")
    h = git_server.people.auth(token)
    assert (
        httpx.get(f"{git_server.base}/api/projects/alice/app/issues", headers=h).status_code == 200
    )
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    httpx.get(f"{git_server.base}/api/projects", headers={**h, "traceparent": traceparent})

    work = git_server.workdir() / "app"
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work))
    (work / ".platform.yaml").write_text(
        "pipeline:\n  steps:\n    - name: hello\n      commands: [echo hi]\n"
    )
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "pipeline", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    run = wait_for(platform, alice, "alice/app", 1)
    assert run.status == "success"

    admin = platform.actor
    requests = _spans(platform, admin, "name like 'GET /api/projects%'")
    names = [r["name"] for r in requests]
    assert "GET /api/projects/{owner}/{name}/issues" in names
    continued = [r for r in requests if r["trace_id"] == "0af7651916cd43dd8448eb211c80319c"]
    assert [r["parent_span_id"] for r in continued] == ["b7ad6b7169203331"]

    git_spans = _spans(platform, alice, "name like 'git %'")
    assert {"git receive-pack", "git upload-pack"} <= {r["name"] for r in git_spans}
    assert {r["project"] for r in git_spans} == {"alice/app"}  # alice sees her project's

    deadline = time.monotonic() + 30
    while True:
        pipeline = _spans(platform, alice, f"trace_id = '{run.id.hex}'")
        if len(pipeline) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [r["name"] for r in pipeline] == ["pipeline #1", "pipeline step hello"]
    root, step = pipeline
    assert root["parent_span_id"] is None
    assert step["parent_span_id"] is not None
    with platform.session() as db:
        joined = sql(
            db,
            actor=alice,
            query="select p.number, s.name from spans s join pipelines p on s.trace_id = p.trace_id"
            " order by s.start, s.parent_span_id nulls first",
        ).table.to_pylist()
    assert joined == [
        {"number": 1, "name": "pipeline #1"},
        {"number": 1, "name": "pipeline step hello"},
    ]
