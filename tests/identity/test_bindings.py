"""Role bindings: who may bind whom where, escalation, the last admin, visibility; all fronts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.clikit import PlatformGroup
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import AlreadyExists, Conflict, NotFound, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.identity.cli.roles import grant, revoke, roles
from platform_sdk.identity.models import Role, UserRole
from platform_sdk.identity.schemas import BindingCreate, RoleCreate
from platform_sdk.identity.sdk.roles import BindingManager, RoleManager
from platform_sdk.identity.services import bindings as svc
from platform_sdk.identity.services import roles as role_svc
from platform_sdk.projects.models import Visibility
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People

ALL = PageParams(per_page=200)


@contextmanager
def api(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def can(platform: Platform, actor: Actor, perm: Perm, project: Any = None) -> bool:
    with platform.session() as db:
        return rbac.can(db, actor, perm, project)


def bind(platform: Platform, actor: Actor, user: str, role: str, project: str | None = None) -> Any:
    with platform.session() as db:
        return svc.create_binding(
            db, actor=actor, body=BindingCreate(user=user, role=role, project=project)
        )


def visible(platform: Platform, actor: Actor, **filters: Any) -> set[tuple[str, str, str | None]]:
    with platform.session() as db:
        page = svc.list_bindings(db, actor=actor, page=ALL, **filters)
    return {(b.user, b.role, b.project) for b in page.items}


class World:
    """alice owns project app (admin there); carol owns project other; bob is nobody yet."""

    def __init__(self, platform: Platform, people: People) -> None:
        self.alice = people.user("alice")
        self.carol = people.user("carol")
        self.bob = people.user("bob")
        self.app = people.project(self.alice, "app")
        self.other = people.project(self.carol, "other")
        self.shared = people.project(self.carol, "shared", Visibility.INTERNAL)
        with platform.session() as db:  # owners administer their projects, as create_project does
            admin_role = db.scalars(select(Role).where(Role.name == "admin")).one()
            for user, pid in (
                (self.alice, self.app),
                (self.carol, self.other),
                (self.carol, self.shared),
            ):
                db.add(UserRole(user_id=user.user_id, role_id=admin_role.id, project_id=pid))


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    return World(platform, people)


# -- services -------------------------------------------------------------------------------
def test_admin_binds_globally_and_it_works_at_once(
    platform: Platform, admin: Actor, world: World
) -> None:
    assert not can(platform, world.bob, Perm.PROJECT_WRITE, world.other)  # warm the cache
    out = bind(platform, admin, "bob", "developer")
    assert (out.user, out.role, out.project, out.granted_by) == ("bob", "developer", None, "admin")
    assert can(platform, world.bob, Perm.PROJECT_WRITE, world.other)
    assert can(platform, world.bob, Perm.PROJECT_WRITE)
    with platform.session() as db:
        row = db.scalars(select(AuditLog).where(AuditLog.action == "binding.create")).one()
    assert row.details == {"role": "developer", "user": "bob", "project": None}
    assert row.target_id == str(out.id)
    with pytest.raises(AlreadyExists):
        bind(platform, admin, "bob", "developer")


def test_project_admin_binds_in_their_project_only(platform: Platform, world: World) -> None:
    out = bind(platform, world.alice, "bob", "developer", "alice/app")
    assert out.project == "alice/app"
    assert out.project_id == world.app
    assert can(platform, world.bob, Perm.PROJECT_WRITE, world.app)
    assert not can(platform, world.bob, Perm.PROJECT_WRITE, world.other)
    assert not can(platform, world.bob, Perm.PROJECT_WRITE)
    with pytest.raises(AlreadyExists):
        bind(platform, world.alice, "bob", "developer", "alice/app")
    with pytest.raises(NotFound):  # private and not hers: invisible
        bind(platform, world.alice, "bob", "developer", "carol/other")
    with pytest.raises(PermissionDenied):  # visible (internal) but she holds no admin:roles
        bind(platform, world.alice, "bob", "viewer", "carol/shared")
    with pytest.raises(PermissionDenied):  # global needs global admin:roles
        bind(platform, world.alice, "bob", "viewer")
    with pytest.raises(NotFound):
        bind(platform, world.alice, "nobody", "viewer", "alice/app")
    with pytest.raises(NotFound):
        bind(platform, world.alice, "bob", "nosuchrole", "alice/app")


def test_nobody_binds_a_role_stronger_than_their_own(
    platform: Platform, people: People, admin: Actor, world: World
) -> None:
    with platform.session() as db:
        role_svc.create_role(
            db,
            actor=admin,
            body=RoleCreate(
                name="keeper",
                permissions=["admin:roles", "project:read", "deploy:read", "observe:read"],
            ),
        )
    bind(platform, admin, "bob", "keeper", "alice/app")
    bind(platform, world.bob, "carol", "viewer", "alice/app")  # viewer ⊆ keeper: fine
    with pytest.raises(PermissionDenied) as err:
        bind(platform, world.bob, "carol", "developer", "alice/app")
    assert "project:write" in err.value.details["missing"]
    with pytest.raises(PermissionDenied):
        bind(platform, world.bob, "carol", "admin", "alice/app")
    # A global holder of admin:roles alone cannot hand out admin either.
    dana = people.user("dana", roles=("keeper",))
    bind(platform, dana, "bob", "viewer")
    with pytest.raises(PermissionDenied):
        bind(platform, dana, "bob", "admin")


def test_developers_and_viewers_cannot_bind(
    platform: Platform, people: People, world: World
) -> None:
    dev = people.user("dev", roles=("developer",))
    with pytest.raises(PermissionDenied):
        bind(platform, dev, "bob", "viewer")
    with pytest.raises(PermissionDenied):  # dev reads every project but administers none
        bind(platform, dev, "bob", "viewer", "alice/app")


def test_removing_the_last_active_admin_is_refused(
    platform: Platform, people: People, admin: Actor
) -> None:
    with platform.session() as db:
        (mine,) = svc.list_bindings(db, actor=admin, page=ALL, user="admin").items
        with pytest.raises(Conflict):
            svc.delete_binding(db, actor=admin, binding_id=mine.id)
    people.user("sleepy", roles=("admin",), active=False)  # a deactivated admin does not count
    with platform.session() as db, pytest.raises(Conflict):
        svc.unbind(db, actor=admin, user="admin", role="admin")
    people.user("second", roles=("admin",))
    with platform.session() as db:
        svc.unbind(db, actor=admin, user="admin", role="admin")
    assert not can(platform, admin, Perm.ADMIN_ROLES)
    with platform.session() as db:
        row = db.scalars(select(AuditLog).where(AuditLog.action == "binding.delete")).one()
    assert row.details == {"role": "admin", "user": "admin", "project": None}


def test_who_sees_which_bindings(platform: Platform, admin: Actor, world: World) -> None:
    bind(platform, admin, "bob", "viewer")
    bind(platform, world.alice, "bob", "developer", "alice/app")
    bind(platform, world.carol, "bob", "ops", "carol/other")
    everything = visible(platform, admin)
    assert ("bob", "ops", "carol/other") in everything
    assert ("admin", "admin", None) in everything
    assert visible(platform, world.bob) == {
        ("bob", "viewer", None),
        ("bob", "developer", "alice/app"),
        ("bob", "ops", "carol/other"),
    }
    assert visible(platform, world.alice) == {
        ("alice", "admin", "alice/app"),
        ("bob", "developer", "alice/app"),
    }
    assert visible(platform, admin, user="bob", role="ops") == {("bob", "ops", "carol/other")}
    assert visible(platform, admin, project="alice/app") == {
        ("alice", "admin", "alice/app"),
        ("bob", "developer", "alice/app"),
    }
    with platform.session() as db, pytest.raises(NotFound):
        svc.list_bindings(db, actor=world.alice, page=ALL, project="carol/other")


def test_deleting_bindings_by_id(platform: Platform, admin: Actor, world: World) -> None:
    theirs = bind(platform, world.carol, "bob", "ops", "carol/other")
    mine = bind(platform, world.alice, "bob", "developer", "alice/app")
    with platform.session() as db:
        with pytest.raises(NotFound):  # alice cannot see carol's project bindings
            svc.delete_binding(db, actor=world.alice, binding_id=theirs.id)
        with pytest.raises(NotFound):
            svc.get_binding(db, actor=world.alice, binding_id=uuid.uuid4())
        assert svc.get_binding(db, actor=world.bob, binding_id=theirs.id).role == "ops"
        with pytest.raises(PermissionDenied):  # bob sees his own binding, cannot remove it
            svc.delete_binding(db, actor=world.bob, binding_id=theirs.id)
    assert can(platform, world.bob, Perm.PROJECT_WRITE, world.app)
    with platform.session() as db:
        svc.delete_binding(db, actor=world.alice, binding_id=mine.id)
    assert not can(platform, world.bob, Perm.PROJECT_WRITE, world.app)
    with platform.session() as db, pytest.raises(NotFound):
        svc.unbind(db, actor=world.alice, user="bob", role="developer", project="alice/app")


# -- HTTP -----------------------------------------------------------------------------------
def test_http_bindings(platform: Platform, people: People, admin: Actor, world: World) -> None:
    root = people.auth(people.token(admin))
    alice = people.auth(people.token(world.alice))
    bob = people.auth(people.token(world.bob))
    with api(platform) as c:
        body = {"user": "bob", "role": "developer", "project": "alice/app"}
        assert c.post("/api/bindings", json=body).status_code == 401
        assert c.post("/api/bindings", json=body, headers=bob).status_code == 404  # private
        r = c.post("/api/bindings", json=body, headers=alice)
        assert r.status_code == 201, r.text
        bid = r.json()["id"]
        assert c.post("/api/bindings", json=body, headers=alice).status_code == 409
        glob = {"user": "bob", "role": "viewer"}
        assert c.post("/api/bindings", json=glob, headers=alice).status_code == 403
        assert c.post("/api/bindings", json=glob, headers=root).status_code == 201
        other = {"user": "bob", "role": "viewer", "project": "carol/other"}
        assert c.post("/api/bindings", json=other, headers=alice).status_code == 404
        assert c.post("/api/bindings", json={**glob, "x": 1}, headers=root).status_code == 422
        listed = c.get("/api/bindings", params={"user": "bob"}, headers=bob).json()
        assert listed["total"] == 2
        assert c.get("/api/bindings", headers=alice).json()["total"] == 2
        assert c.get(f"/api/bindings/{bid}", headers=bob).json()["project"] == "alice/app"
        assert c.delete(f"/api/bindings/{bid}", headers=bob).status_code == 403
        assert c.delete(f"/api/bindings/{uuid.uuid4()}", headers=root).status_code == 404
        assert c.delete(f"/api/bindings/{bid}", headers=alice).status_code == 204
        assert c.get(f"/api/bindings/{bid}", headers=root).status_code == 404


def test_http_scoped_and_bounded_tokens(
    platform: Platform, people: People, admin: Actor, world: World
) -> None:
    read_only = people.auth(people.token(admin, scopes=["project:read"]))
    bounded = people.auth(people.token(world.alice, project_id=world.app))
    with api(platform) as c:
        body = {"user": "bob", "role": "viewer"}
        assert c.post("/api/bindings", json=body, headers=read_only).status_code == 403
        in_app = {**body, "project": "alice/app"}
        assert c.post("/api/bindings", json=in_app, headers=bounded).status_code == 201
        assert c.post("/api/bindings", json=body, headers=bounded).status_code == 403


# -- SDK and CLI ----------------------------------------------------------------------------
def test_sdk_bindings(platform: Platform, world: World) -> None:
    developer = RoleManager(platform).get("developer")
    binding = developer.bind("bob", project="alice/app")
    assert repr(binding) == "<Binding bob developer in alice/app>"
    assert [b.project for b in developer.bindings] == ["alice/app"]
    manager = BindingManager(platform)
    assert {b.role for b in manager.list(user="bob")} == {"developer"}
    assert manager.get(binding.id) == binding
    viewer = manager.create("bob", "viewer")
    assert repr(viewer) == "<Binding bob viewer globally>"
    viewer.delete()
    developer.unbind("bob", project=world.app)
    assert len(manager.list(user="bob")) == 0


def _cli(platform: Platform, *args: str, as_user: str | None = None) -> Result:
    group = PlatformGroup(commands={"roles": roles, "grant": grant, "revoke": revoke})
    obj = {"settings": platform.settings, "as_user": as_user}
    return CliRunner().invoke(group, list(args), obj=obj)


def test_cli_grant_and_revoke(platform: Platform, world: World) -> None:
    assert _cli(platform, "grant", "--help").exit_code == 0
    assert _cli(platform, "revoke", "--help").exit_code == 0
    out = _cli(platform, "grant", "developer", "bob", "--project", "alice/app", "--json")
    assert out.exit_code == 0, out.output
    binding = json.loads(out.output)
    assert binding["project"] == "alice/app"
    text = _cli(platform, "grant", "viewer", "bob")
    assert "(global)" in text.output
    listed = json.loads(_cli(platform, "roles", "bindings", "--user", "bob", "--json").output)
    assert {b["role"] for b in listed} == {"developer", "viewer"}
    refused = _cli(platform, "grant", "viewer", "carol", as_user="bob")
    assert refused.exit_code == 1
    assert "error[permission_denied]" in refused.output
    assert _cli(platform, "revoke", "viewer").exit_code == 2  # USER is missing
    assert _cli(platform, "revoke", "viewer", "bob", "--id", binding["id"]).exit_code == 2
    gone = _cli(platform, "revoke", "viewer", "bob")
    assert gone.output == "revoked viewer from bob globally\n"
    assert _cli(platform, "revoke", "--id", binding["id"]).exit_code == 0
    again = _cli(platform, "revoke", "--id", binding["id"])
    assert again.exit_code == 1
    assert "error[not_found]" in again.output
    assert not can(platform, world.bob, Perm.PROJECT_READ, world.app)


def test_listing_the_bindings_of_an_unknown_user_is_404(
    platform: Platform, people: People, world: World
) -> None:
    bob = people.auth(people.token(world.bob))
    with api(platform) as c:
        r = c.get("/api/bindings", params={"user": "nobody-here"}, headers=bob)
        assert r.status_code == 404
        assert r.json()["error"] == {
            "code": "not_found",
            "message": "user 'nobody-here' not found",
        }
        # a known user with nothing visible is still an empty list
        assert c.get("/api/bindings", params={"user": "carol"}, headers=bob).status_code == 200
