"""Projects as far as identity needs them: create, visibility, and the NotFound rule."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.core.access import Actor
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import AlreadyExists, NotFound, PermissionDenied, ValidationFailed
from platform_sdk.git.repos import git_env, repo_path, repos_root, run_git
from platform_sdk.projects.models import Visibility
from platform_sdk.projects.schemas import ProjectCreate, ProjectUpdate
from platform_sdk.projects.services import projects as service
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


# -- repositories, update, delete ---------------------------------------------------------


def _repo(platform: Platform, full: str) -> Path:
    owner, _, name = full.partition("/")
    return repo_path(platform.settings, owner, name)


def _head(path: Path) -> str:
    return run_git(["symbolic-ref", "HEAD"], git_dir=path).stdout.decode().strip()


def test_create_initialises_the_bare_repository(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    with platform.session() as db:
        body = ProjectCreate(name="app", default_branch="trunk")
        full = service.create_project(db, actor=dev, body=body).full_name
    path = _repo(platform, full)
    assert (path / "HEAD").is_file()
    assert _head(path) == "refs/heads/trunk"
    for bad in ("-x", "a..b", "x y", "--upload-pack=x"):
        with pytest.raises(ValueError, match="branch"):
            ProjectCreate(name="y", default_branch=bad)


def test_a_rolled_back_create_leaves_nothing_on_disk(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    seen = []
    with pytest.raises(RuntimeError), platform.session() as db:  # noqa: PT012
        service.create_project(db, actor=dev, body=ProjectCreate(name="gone"))
        seen.append(_repo(platform, "dev/gone").is_dir())
        raise RuntimeError("boom")
    assert seen == [True]
    assert not _repo(platform, "dev/gone").exists()
    _create(platform, dev, "gone")  # the name works afterwards
    assert _repo(platform, "dev/gone").is_dir()


def test_delete_frees_the_name_and_moves_the_repository_aside(
    platform: Platform, people: People
) -> None:
    dev = people.user("dev", roles=("developer",))
    other = people.user("other", roles=("developer",))
    stranger = people.user("stranger")
    full = _create(platform, dev, "app")
    with platform.session() as db:
        project_id = service.get_project(db, actor=dev, ref=full).id
        with pytest.raises(PermissionDenied):  # a developer, but not this project's admin
            service.delete_project(db, actor=other, ref=full)
        with pytest.raises(NotFound):
            service.delete_project(db, actor=stranger, ref=full)
    (_repo(platform, full) / "marker").write_text("old history")
    with platform.session() as db:
        service.delete_project(db, actor=dev, ref=full)
    grave = repos_root(platform.settings) / ".deleted" / f"{project_id}.git"
    assert (grave / "marker").read_text() == "old history"
    assert not _repo(platform, full).exists()
    with platform.session() as db:
        with pytest.raises(NotFound):
            service.get_project(db, actor=dev, ref=full)
        row = db.scalars(select(AuditLog).where(AuditLog.action == "project.delete")).one()
        assert row.project_id == project_id
    again = _create(platform, dev, "app")
    assert again == full
    assert not (_repo(platform, full) / "marker").exists()


def test_a_rolled_back_delete_puts_the_repository_back(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    full = _create(platform, dev, "app")
    seen = []
    with pytest.raises(RuntimeError), platform.session() as db:  # noqa: PT012
        service.delete_project(db, actor=dev, ref=full)
        seen.append(_repo(platform, full).exists())
        raise RuntimeError("boom")
    assert seen == [False]
    assert (_repo(platform, full) / "HEAD").is_file()
    with platform.session() as db:
        assert service.get_project(db, actor=dev, ref=full).full_name == full


def test_update_settings_permissions_and_audit(platform: Platform, people: People) -> None:
    owner = people.user("owner", roles=("developer",))
    dev = people.user("dev", roles=("developer",))
    full = _create(platform, owner, "app")
    with platform.session() as db:
        out = service.update_project(
            db,
            actor=owner,
            ref=full,
            body=ProjectUpdate(
                description="the app",
                visibility=Visibility.INTERNAL,
                protected_branches=["main", "release/*", "main"],
            ),
        )
        assert (out.description, out.visibility) == ("the app", Visibility.INTERNAL)
        assert out.protected_branches == ["main", "release/*"]
        # a global developer may edit the description, not widen access or unprotect
        service.update_project(db, actor=dev, ref=full, body=ProjectUpdate(description="x"))
        with pytest.raises(PermissionDenied):
            service.update_project(
                db, actor=dev, ref=full, body=ProjectUpdate(visibility=Visibility.PUBLIC)
            )
        with pytest.raises(PermissionDenied):
            service.update_project(
                db, actor=dev, ref=full, body=ProjectUpdate(protected_branches=[])
            )
        rows = db.scalars(select(AuditLog).where(AuditLog.action == "project.update")).all()
        assert [r.actor_name for r in rows] == ["owner", "dev"]
        assert rows[0].details["changes"]["visibility"] == ["private", "internal"]
    with pytest.raises(ValueError, match="extra"):
        ProjectUpdate.model_validate({"name": "renamed"})
    with pytest.raises(ValueError, match="pattern"):
        ProjectUpdate(protected_branches=["-x"])


def test_update_default_branch_must_exist_unless_the_repo_is_empty(
    platform: Platform, people: People, tmp_path: Path
) -> None:
    dev = people.user("dev", roles=("developer",))
    full = _create(platform, dev, "app")
    with platform.session() as db:  # empty: any valid name is accepted
        out = service.update_project(
            db, actor=dev, ref=full, body=ProjectUpdate(default_branch="dev")
        )
        assert out.default_branch == "dev"
    assert _head(_repo(platform, full)) == "refs/heads/dev"
    work = tmp_path / "w"
    env = git_env()
    for args in (
        ["init", "-q", "--initial-branch=main", str(work)],
        ["-C", str(work), "commit", "-q", "--allow-empty", "-m", "one"],
        ["-C", str(work), "push", "-q", f"file://{_repo(platform, full)}", "main"],
    ):
        subprocess.run(["git", *args], env=env, check=True, capture_output=True)
    with platform.session() as db:
        with pytest.raises(ValidationFailed, match="default_branch"):
            service.update_project(
                db, actor=dev, ref=full, body=ProjectUpdate(default_branch="nope")
            )
        out = service.update_project(
            db, actor=dev, ref=full, body=ProjectUpdate(default_branch="main")
        )
        assert out.default_branch == "main"
    assert _head(_repo(platform, full)) == "refs/heads/main"


def test_http_update_and_delete(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    other = people.user("other", roles=("developer",))
    _create(platform, dev, "web")
    with TestClient(create_app(platform)) as c:
        h = people.auth(people.token(dev))
        oh = people.auth(people.token(other))
        r = c.patch("/api/projects/dev/web", json={"description": "hi"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["description"] == "hi"
        assert c.patch("/api/projects/dev/web", json={"name": "x"}, headers=h).status_code == 422
        r = c.patch("/api/projects/dev/web", json={"default_branch": "-x"}, headers=h)
        assert r.status_code == 422
        assert c.delete("/api/projects/dev/web", headers=oh).status_code == 403
        assert c.delete("/api/projects/dev/web").status_code == 401
        assert c.delete("/api/projects/dev/web", headers=h).status_code == 204
        assert c.get("/api/projects/dev/web", headers=h).status_code == 404
        assert c.delete("/api/projects/dev/web", headers=h).status_code == 404


def test_sdk_update_and_delete(platform: Platform) -> None:
    project = platform.projects.create("tool")
    assert project.repo.branches == []
    project.update(visibility="public", protected_branches=["main"])
    assert (project.visibility, project.protected_branches) == (Visibility.PUBLIC, ["main"])
    assert platform.projects.get(project.full_name).visibility == Visibility.PUBLIC
    project.delete()
    with pytest.raises(NotFound):
        platform.projects.get(project.full_name)
    assert platform.projects.create("tool").full_name == project.full_name


def test_cli_update_and_rm(platform: Platform, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from platform_sdk.cli.main import main

    platform.projects.create("cli-app")
    full = f"{platform.actor.username}/cli-app"
    data = ["--data-dir", str(platform.settings.data_dir)]
    env = {"DATABASE_URL": platform.settings.resolved_database_url}
    run = CliRunner().invoke
    r = run(
        main,
        [
            *data,
            "projects",
            "update",
            full,
            "--protect",
            "main",
            "--protect",
            "rel/*",
            "--description",
            "d",
            "--json",
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    r = run(main, [*data, "projects", "update", full, "--unprotect", "main", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert platform.projects.get(full).protected_branches == ["rel/*"]
    r = run(main, [*data, "projects", "rm", full], env=env, input="n\n")
    assert r.exit_code != 0
    assert platform.projects.get(full).description == "d"
    r = run(main, [*data, "projects", "rm", full, "--yes"], env=env)
    assert r.exit_code == 0, r.output
    with pytest.raises(NotFound):
        platform.projects.get(full)
