"""The dashboards' data methods against a seeded platform, acting as different users: filters
change what is shown, lists ask the services for one page only, actions go through the SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platform_sdk.dashboards import (
    AdminDashboard,
    ObserveDashboard,
    PipelinesDashboard,
    ProjectsDashboard,
)
from platform_sdk.pipelines.services import runs as run_service
from platform_sdk.sdk import Platform
from tests.dashboards.seed import World, add_logs, make_world
from tests.pipelines.helpers import wait_for
from tests.plugins.platforms import People


@pytest.fixture
def world(platform: Platform, people: People, tmp_path: Path) -> World:
    return make_world(platform, people, tmp_path)


def test_pipelines_asks_for_one_page_and_filters(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        world.trigger()
    pages: list[Any] = []
    real = run_service.list_runs

    def spy(db: Any, **kwargs: Any) -> Any:
        pages.append(kwargs["page"])
        return real(db, **kwargs)

    monkeypatch.setattr(run_service, "list_runs", spy)
    view = PipelinesDashboard(platform=world.as_(world.dev), project="dev/app")
    assert list(view.runs.frame["number"]) == [3, 2, 1]
    assert view.runs.total == 3
    assert [(p.page, p.per_page) for p in pages] == [(1, 100)]  # one page query, not a full load
    view.status = "success"
    assert view.runs.frame.empty
    assert view.runs._empty.visible
    assert "trigger a run" in view.runs._empty.object
    view.status = ""
    view.run_number = 2
    assert view.run is not None
    assert list(view._steps.value["name"]) == ["build", "test"]
    assert "Run #2" in view._run_status.object


def test_pipelines_cancel_rerun_and_live_refresh(world: World) -> None:
    number = world.trigger()
    view = PipelinesDashboard(platform=world.as_(world.dev), project="dev/app")
    view.run_number = number
    assert not view._cancel.disabled
    view.cancel()
    assert view.run is not None
    assert view.run.status == "cancelled"
    assert view.runs.frame["status"].iloc[0] == "cancelled"
    view.rerun()
    assert view.run_number == number + 1
    assert list(view.runs.frame["number"]) == [number + 1, number]
    # the new run finishes elsewhere (a worker); the periodic tick shows it without a reload
    world.platform.pipeline_worker().drive(view.run._data.id, timeout=60)
    wait_for(world.platform, world.dev, "dev/app", number + 1)
    assert view._steps.value["status"].tolist() != ["success", "success"]
    view.tick()
    assert view._steps.value["status"].tolist() == ["success", "success"]
    assert view.runs.frame["status"].iloc[0] == "success"
    view.step = "build"
    assert "building" in view._log.object


def test_a_viewer_cannot_cancel(world: World) -> None:
    number = world.trigger()
    view = PipelinesDashboard(platform=world.as_(world.vera), project="dev/app")
    assert view.param.project.objects == ["dev/app"]  # vera cannot see dev/other
    view.run_number = number
    view.cancel()
    assert "PermissionDenied" in view.message or "NotFound" in view.message
    assert view.run is not None
    assert view.run.status == "pending"


def test_observe_filters_paging_and_tail(world: World) -> None:
    view = ObserveDashboard(platform=world.as_(world.dev))
    bodies = view.logs.value["body"].tolist()
    assert bodies == ["cache miss", "other project warning", "database timeout", "request served"]
    view.project = "dev/app"
    assert "other project warning" not in view.logs.value["body"].tolist()
    view.level = "error"
    assert view.logs.value["body"].tolist() == ["database timeout"]
    view.level = ""
    view.text = "SERVED"
    assert view.logs.value["body"].tolist() == ["request served"]
    view.text = "nothing like this"
    assert view.logs.value.empty
    assert view._logs_empty.visible
    view.text = ""
    view.page_size = 2
    first = view.search()["body"].tolist()
    second = view.older()["body"].tolist()
    assert first == ["cache miss", "database timeout"]
    assert second == ["request served"]
    assert view.newer()["body"].tolist() == first
    add_logs(world.platform, [("dev/app", "INFO", "just arrived")], age=1)
    assert view.tail_once() == 1
    assert view.logs.value["body"].iloc[0] == "just arrived"


def test_observe_sees_only_readable_projects_and_runs_sql(world: World) -> None:
    view = ObserveDashboard(platform=world.as_(world.vera))
    assert "other project warning" not in view.logs.value["body"].tolist()
    assert len(view.logs.value) == 3
    view.sql = "select severity, count(*) as n from logs group by 1 order by 1"
    result = view.run_sql()
    assert result is not None
    assert dict(zip(result["severity"], result["n"], strict=True)) == {
        "DEBUG": 1,
        "ERROR": 1,
        "INFO": 1,
    }
    assert len(view._sql_chart) == 1  # a chart of the result
    view.sql = "drop table logs"
    assert view.run_sql() is None
    assert view.message
    assert view.alert_rules.frame.empty
    assert "Create one" in view.alert_rules._empty.object


def test_projects_filters_and_merge_request(world: World) -> None:
    view = ProjectsDashboard(platform=world.as_(world.dev))
    assert set(view.projects.frame["full_name"]) == {"dev/app", "dev/other"}
    view.search = "oth"
    assert view.projects.frame["full_name"].tolist() == ["dev/other"]
    view.project = "dev/app"
    assert set(view.issues.frame["title"]) == {"Login fails", "Add dark mode"}
    view.issue_label = "bug"
    assert view.issues.frame["title"].tolist() == ["Login fails"]
    view.issue_state = "closed"
    assert view.issues.frame.empty
    assert view.merge_requests.frame["title"].tolist() == ["Add the feature"]
    view.mr_number = 1
    assert "feature.txt" in view._diff.object
    assert "+new feature" in view._diff.object
    assert "No reviews yet" in view._mr_title.object


def test_admin_tables_and_filters(world: World) -> None:
    admin = AdminDashboard(platform=world.platform)
    assert {"dev", "vera"} <= set(admin.users.frame["username"])
    admin.user_query = "ver"
    assert admin.users.frame["username"].tolist() == ["vera"]
    assert "developer" in set(admin.roles.frame["name"])
    admin.audit_action = "merge_request."
    assert set(admin.audit.frame["action"]) == {"merge_request.create"}
    assert not admin.message
    # vera is no admin: the services refuse, the view says so instead of showing users
    mine = AdminDashboard(platform=world.as_(world.vera))
    assert mine.audit.frame.empty
    assert "Cannot show this list" in mine.audit._empty.object


def test_inline_accessors_and_run_widget(world: World) -> None:
    p = world.as_(world.dev)
    assert isinstance(p.dashboards.observe(), ObserveDashboard)
    assert isinstance(p.dashboards.projects(), ProjectsDashboard)
    run = p.projects.get("dev/app").pipelines.get(world.trigger())
    box = run.widget(interval=0.05)
    assert "pending" in box.children[0].value
    world.platform.pipeline_worker().drive(run._data.id, timeout=60)
    wait_for(world.platform, world.dev, "dev/app", run.number)
    assert box.refresh() is True
    assert "success" in box.children[0].value
    assert box.children[1].value.count("success") == 2
