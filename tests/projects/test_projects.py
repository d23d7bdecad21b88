"""Projects as far as identity needs them: create, visibility, and the NotFound rule."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.core.access import Actor
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import AlreadyExists, NotFound, PermissionDenied, ValidationFailed
from platform_sdk.projects import service
from platform_sdk.projects.models import Visibility
from platform_sdk.projects.schemas import ProjectCreate
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People


def _create(platform: Platform, actor: Actor, name: str, visibility: str = "private") -> str:
    with platform.session() as db:
        body = ProjectCreate(name=name, visibility=Visibility(visibility))
        return service.create_project(db, actor=actor, body=body).full_name


def test_creator_becomes_admin_of_the_project_and_it_is_audited(
    platform: Platform, people: People
) -> None:
    dev = people.user("dev", roles=("developer",))
    full = _create(platform, dev, "app")
    assert full == "dev/app"
    from platform_sdk.identity import rbac

    with platform.session() as db:
        project = service.get_project(db, actor=dev, ref=full)
        assert rbac.can(db, dev, "project:delete", project.id)
        assert not rbac.can(db, dev, "project:delete")
        row = db.scalars(select(AuditLog).where(AuditLog.action == "project.create")).one()
        assert row.actor_name == "dev"
        assert row.project_id == project.id


def test_names_are_unique_per_owner_and_validated(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    other = people.user("other", roles=("developer",))
    _create(platform, dev, "app")
    _create(platform, other, "app")  # same name, other owner: fine
    with pytest.raises(AlreadyExists):
        _create(platform, dev, "app")
    for bad in ("-x", "a b", "x.git", "", "é"):
        with pytest.raises(ValueError, match="name"):
            ProjectCreate(name=bad)


@pytest.mark.parametrize(
    ("visibility", "stranger_sees"),
    [("private", False), ("internal", True), ("public", True)],
)
def test_visibility_decides_who_reads(
    platform: Platform, people: People, visibility: str, stranger_sees: bool
) -> None:
    owner = people.user("owner", roles=("developer",))
    stranger = people.user("stranger")
    full = _create(platform, owner, "thing", visibility)
    with platform.session() as db:
        listed = service.list_projects(db, actor=stranger, page=PageParams())
        assert (full in [p.full_name for p in listed.items]) is stranger_sees
        if stranger_sees:
            assert service.get_project(db, actor=stranger, ref=full).full_name == full
        else:
            with pytest.raises(NotFound):
                service.get_project(db, actor=stranger, ref=full)


def test_a_project_bounded_token_reaches_only_its_project(
    platform: Platform, people: People
) -> None:
    owner = people.user("owner", roles=("developer",))
    _create(platform, owner, "one", "public")
    two = _create(platform, owner, "two", "public")
    with platform.session() as db:
        one_id = service.get_project(db, actor=owner, ref="owner/one").id
        bounded = Actor(user_id=owner.user_id, username="owner", project_id=one_id)
        assert [
            p.name for p in service.list_projects(db, actor=bounded, page=PageParams()).items
        ] == ["one"]
        with pytest.raises(NotFound):
            service.get_project(db, actor=bounded, ref=two)
        with pytest.raises(PermissionDenied):
            service.create_project(db, actor=bounded, body=ProjectCreate(name="three"))


def test_http_create_list_get(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    viewer = people.user("viewer", roles=("viewer",))
    app = create_app(platform)
    with TestClient(app) as c:
        h = people.auth(people.token(dev))
        r = c.post("/api/projects", json={"name": "web", "visibility": "private"}, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["full_name"] == "dev/web"
        assert c.post("/api/projects", json={"name": "web"}, headers=h).status_code == 409
        r = c.post("/api/projects", json={"name": "bad name"}, headers=h)
        assert r.status_code == 422
        assert "name" in r.json()["error"]["message"]
        assert c.get("/api/projects", headers=h).json()["total"] == 1
        assert c.get("/api/projects/dev/web", headers=h).status_code == 200
        assert c.get("/api/projects/dev/web").status_code == 401
        vh = people.auth(people.token(viewer))
        # viewer holds project:read globally, so private projects are visible to it
        assert c.get("/api/projects/dev/web", headers=vh).status_code == 200
        nobody = people.auth(people.token(people.user("nobody")))
        assert c.get("/api/projects/dev/web", headers=nobody).status_code == 404
        assert c.get("/api/projects/dev/nope", headers=h).status_code == 404


def test_pagination_parameters_are_checked(platform: Platform) -> None:
    with pytest.raises(ValidationFailed, match="per_page"):
        PageParams(per_page=0)
    with pytest.raises(ValidationFailed, match="page"):
        PageParams(page=0)


def test_a_refused_duplicate_leaves_the_session_usable(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    with platform.session() as db:
        service.create_project(db, actor=dev, body=ProjectCreate(name="dup"))
        with pytest.raises(AlreadyExists):
            service.create_project(db, actor=dev, body=ProjectCreate(name="dup"))
        service.create_project(db, actor=dev, body=ProjectCreate(name="other"))
    with platform.session() as db:
        names = [p.name for p in service.list_projects(db, actor=dev, page=PageParams()).items]
    assert sorted(names) == ["dup", "other"]
