"""The server extension's routes with pytest-jupyter's ``jp_fetch``, against a seeded platform
(embedded, and through its REST API in the remote mode): what alice sees of her projects, and
that bob gets 404 for them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from tests.jupyter.seed import LOG_LINE, Seeded

BOTH_MODES = pytest.mark.parametrize("platform_mode", ["embedded", "remote"])


async def get(jp_fetch: Any, *path: str, **params: str) -> Any:
    response = await jp_fetch("platform", *path, method="GET", params=params)
    assert response.code == 200
    return json.loads(response.body)


async def status_of(jp_fetch: Any, *path: str, **params: str) -> tuple[int, Any]:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("platform", *path, method="GET", params=params)
    body = caught.value.response.body if caught.value.response else b"{}"
    return caught.value.code, json.loads(body)


async def test_config_names_the_acting_user_and_dashboard_url(
    jp_fetch: Any, seeded: Seeded
) -> None:
    config = await get(jp_fetch, "config")
    assert config["mode"] == "embedded"
    assert config["user"] == "alice"
    assert config["platform_url"] == "http://127.0.0.1:8080"
    assert config["poll_interval"] > 0


@BOTH_MODES
async def test_projects_lists_only_what_the_user_may_read(jp_fetch: Any, seeded: Seeded) -> None:
    projects = await get(jp_fetch, "projects")
    assert sorted(p["full_name"] for p in projects["items"]) == ["alice/app", "alice/docs"]
    assert len((await get(jp_fetch, "projects", limit="1"))["items"]) == 1
    code, _ = await status_of(jp_fetch, "projects", limit="0")
    assert code == 400


@BOTH_MODES
async def test_runs_and_their_logs(jp_fetch: Any, seeded: Seeded) -> None:
    runs = await get(jp_fetch, "projects", "alice", "app", "runs")
    [run] = runs["items"]
    assert (run["number"], run["status"]) == (1, "success")
    logs = await get(jp_fetch, "projects", "alice", "app", "runs", "1", "logs")
    assert logs["done"] is True
    assert logs["run"]["status"] == "success"
    assert [s["name"] for s in logs["steps"]] == ["build", "test"]
    assert LOG_LINE in logs["steps"][0]["log"]
    assert "tested" in logs["steps"][1]["log"]
    assert (await get(jp_fetch, "projects", "alice", "docs", "runs"))["items"] == []
    code, body = await status_of(jp_fetch, "projects", "alice", "app", "runs", "9", "logs")
    assert code == 404
    assert body["error"]["code"] == "not_found"


@BOTH_MODES
async def test_merge_requests_alerts_and_sessions(jp_fetch: Any, seeded: Seeded) -> None:
    mrs = await get(jp_fetch, "projects", "alice", "app", "merge-requests")
    [mr] = mrs["items"]
    assert (mr["number"], mr["title"], mr["state"]) == (1, "Add the feature", "open")
    alerts = await get(jp_fetch, "projects", "alice", "app", "alerts")
    [event] = alerts["items"]
    assert (event["rule"], event["state"]) == ("errors", "firing")
    assert (await get(jp_fetch, "projects", "alice", "docs", "alerts"))["items"] == []
    sessions = await get(jp_fetch, "projects", "alice", "app", "sessions")
    assert sessions["items"] == []
    assert sessions["available"] is False


@BOTH_MODES
@pytest.mark.parametrize("acting_user", ["bob"])
@pytest.mark.parametrize(
    "path",
    [
        ("runs",),
        ("runs", "1", "logs"),
        ("merge-requests",),
        ("alerts",),
        ("sessions",),
    ],
)
async def test_a_user_without_permission_gets_404(
    jp_fetch: Any, seeded: Seeded, acting_user: str, path: tuple[str, ...]
) -> None:
    code, body = await status_of(jp_fetch, "projects", "alice", "app", *path)
    assert code == 404
    assert body["error"]["code"] == "not_found"
    projects = await get(jp_fetch, "projects")
    assert [p["full_name"] for p in projects["items"]] == ["bob/secret"]


@BOTH_MODES
async def test_unknown_project_is_404(jp_fetch: Any, seeded: Seeded) -> None:
    code, _ = await status_of(jp_fetch, "projects", "nobody", "nothing", "runs")
    assert code == 404


@pytest.mark.parametrize("platform_mode", ["remote"])
async def test_remote_config_names_the_token_owner(
    jp_fetch: Any, seeded: Seeded, platform_server: str
) -> None:
    config = await get(jp_fetch, "config")
    assert (config["mode"], config["user"]) == ("remote", "alice")
    assert config["platform_url"] == platform_server
