"""SQL over the platform tables shows each actor exactly what the REST listings show it.

For every system role, bound globally and bound on one project, and for a user with no role,
``projects``, ``pipelines``, ``pipeline_steps`` and ``audit_log`` through ``POST
/api/observe/sql`` hold exactly the rows ``GET /api/projects``, ``GET /api/projects/{p}/pipelines``
(with each run's steps) and ``GET /api/audit`` return to the same token — public, internal
and private projects, a project-bound token, and an audit log that REST keeps to
``admin:config`` (it showed every project's audit rows to viewers through SQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_sdk.core import audit
from platform_sdk.core.access import SYSTEM_ROLES
from platform_sdk.pipelines.models import Pipeline, PipelineStep, TriggerKind
from platform_sdk.projects.models import Visibility
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(platform: Platform, people: People) -> dict[str, Any]:
    owner = people.user("owner", roles=("developer",))
    projects = {
        v: people.project(owner, f"p-{v.value}", visibility=v)
        for v in (Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC)
    }
    other = people.project(owner, "other")  # private, nobody's but the owner's
    with platform.session() as db:
        for n, pid in enumerate([*projects.values(), other], start=1):
            run = Pipeline(
                project_id=pid,
                number=1,
                trigger=TriggerKind.PUSH,
                ref="refs/heads/main",
                commit_sha="0" * 40,
            )
            db.add(run)
            db.flush()
            db.add(PipelineStep(pipeline_id=run.id, name=f"build-{n}"))
            audit.record(db, None, "test.touched", target_type="project", project_id=pid)
        audit.record(db, None, "test.global")
    return {"projects": projects, "other": other}


def _actors(people: People, world: dict[str, Any]) -> Iterator[tuple[str, str]]:
    bound = world["projects"][Visibility.PRIVATE]
    for role in sorted(SYSTEM_ROLES):
        yield f"global {role}", people.token(people.user(f"g-{role}", roles=(role,)))
        user = people.user(f"p-{role}", project_roles={bound: (role,)})
        yield f"{role} on the private project", people.token(user)
    yield "no role", people.token(people.user("nobody"))
    admin = people.user("bound-admin", roles=("admin",))
    yield (
        "admin token bound to the public project",
        people.token(admin, project_id=world["projects"][Visibility.PUBLIC]),
    )


def _sql(client: TestClient, token: str, query: str) -> set[str]:
    r = client.post("/api/observe/sql", json={"query": query}, headers=People.auth(token))
    assert r.status_code == 200, r.text
    return {str(row[0]) for row in r.json()["rows"]}


def _rest(client: TestClient, token: str) -> dict[str, set[str]]:
    auth = People.auth(token)
    r = client.get("/api/projects", params={"per_page": 100}, headers=auth)
    assert r.status_code == 200, r.text
    listed = r.json()["items"]
    runs: set[str] = set()
    steps: set[str] = set()
    for project in listed:
        path = f"/api/projects/{project['full_name']}/pipelines"
        page = client.get(path, headers=auth)
        assert page.status_code == 200, page.text
        for run in page.json()["items"]:
            runs.add(str(run["id"]))
            one = client.get(f"{path}/{run['number']}", headers=auth)
            steps |= {str(s["id"]) for s in one.json()["steps"]}
    r = client.get("/api/audit", params={"per_page": 100}, headers=auth)
    assert r.status_code in (200, 403), r.text
    audited = {str(a["id"]) for a in r.json()["items"]} if r.status_code == 200 else set()
    return {
        "projects": {str(p["id"]) for p in listed},
        "pipelines": runs,
        "pipeline_steps": steps,
        "audit_log": audited,
    }


def test_sql_over_platform_tables_equals_the_rest_listings(
    client: TestClient, people: People, world: dict[str, Any]
) -> None:
    mismatches: list[str] = []
    seen_audit = False
    for who, token in _actors(people, world):
        rest = _rest(client, token)
        seen_audit |= bool(rest["audit_log"])
        for table, ids in rest.items():
            got = _sql(client, token, f"select id from {table}")  # noqa: S608 - fixed names
            if got != ids:
                mismatches.append(
                    f"{who}: {table}: SQL has {len(got - ids)} row(s) REST hides, "
                    f"lacks {len(ids - got)} it shows"
                )
    assert mismatches == []
    assert seen_audit  # an admin's audit rows are compared, not only empty sets


def test_a_viewer_sees_no_audit_rows_through_sql(
    client: TestClient, people: People, world: dict[str, Any]
) -> None:
    viewer = people.user("v", project_roles={world["projects"][Visibility.PRIVATE]: ("viewer",)})
    token = people.token(viewer)
    assert client.get("/api/audit", headers=People.auth(token)).status_code == 403
    assert _sql(client, token, "select id from audit_log") == set()
    assert _sql(client, token, "select id from projects") == {
        str(world["projects"][v]) for v in Visibility
    }
    assert uuid.UUID(next(iter(_sql(client, token, "select id from pipelines"))))
