"""Roles and the permission catalogue: services, HTTP, SDK and CLI, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.clikit import PlatformGroup
from platform_sdk.core.access import SYSTEM_ROLES, Actor, Perm
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import AlreadyExists, Conflict, NotFound, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.identity.cli.roles import roles
from platform_sdk.identity.schemas import RoleCreate, RoleUpdate
from platform_sdk.identity.sdk.roles import RoleManager
from platform_sdk.identity.services import roles as svc
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People


@contextmanager
def api(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def audit_rows(platform: Platform, action: str) -> list[AuditLog]:
    with platform.session() as db:
        return list(db.scalars(select(AuditLog).where(AuditLog.action == action)))


def can(platform: Platform, actor: Actor, perm: Perm, project: Any = None) -> bool:
    with platform.session() as db:
        return rbac.can(db, actor, perm, project)


def run(platform: Platform, *args: str, as_user: str | None = None) -> Result:
    cli = PlatformGroup(commands={"roles": roles})
    obj = {"settings": platform.settings, "as_user": as_user}
    return CliRunner().invoke(cli, list(args), obj=obj)


# -- services -------------------------------------------------------------------------------
def test_catalogue_lists_every_permission_with_its_description(
    platform: Platform, people: People
) -> None:
    viewer = people.user("vic", roles=("viewer",))
    with platform.session() as db:
        catalogue = svc.list_permissions(db, actor=viewer)
    assert {p.name: p.description for p in catalogue} == {p.value: p.description for p in Perm}


def test_roles_list_system_roles_first_then_custom(platform: Platform, admin: Actor) -> None:
    with platform.session() as db:
        svc.create_role(db, actor=admin, body=RoleCreate(name="aaa", permissions=["project:read"]))
    with platform.session() as db:
        page = svc.list_roles(db, actor=admin, page=PageParams(per_page=3))
        rest = svc.list_roles(db, actor=admin, page=PageParams(page=2, per_page=3))
    names = [r.name for r in page.items + rest.items]
    assert names[:5] == sorted(SYSTEM_ROLES)
    assert names[5:] == ["aaa"]
    assert page.total == 6
    assert page.next_page == 2
    assert rest.next_page is None


def test_get_role_shows_its_permissions(platform: Platform, people: People) -> None:
    agent = people.user("bot", roles=("agent",))
    with platform.session() as db:
        dev = svc.get_role(db, actor=agent, name="developer")
        with pytest.raises(NotFound):
            svc.get_role(db, actor=agent, name="nope")
    assert dev.is_system
    assert set(dev.permissions) == {p.value for p in SYSTEM_ROLES["developer"][1]}


def test_admin_creates_a_custom_role_and_it_is_audited(platform: Platform, admin: Actor) -> None:
    body = RoleCreate(name="releaser", description="Ship", permissions=["deploy:promote"])
    with platform.session() as db:
        role = svc.create_role(db, actor=admin, body=body)
    assert role.name == "releaser"
    assert not role.is_system
    assert role.permissions == ["deploy:promote"]
    (row,) = audit_rows(platform, "role.create")
    assert row.actor_name == "admin"
    assert row.details == {"role": "releaser", "permissions": ["deploy:promote"]}
    with platform.session() as db, pytest.raises(AlreadyExists):
        svc.create_role(db, actor=admin, body=body)
    with platform.session() as db, pytest.raises(AlreadyExists):
        svc.create_role(db, actor=admin, body=RoleCreate(name="viewer"))


def test_only_admin_roles_holders_create_roles(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    with platform.session() as db, pytest.raises(PermissionDenied):
        svc.create_role(db, actor=dev, body=RoleCreate(name="mine"))
    assert audit_rows(platform, "role.create") == []


def test_a_role_cannot_carry_permissions_its_creator_lacks(
    platform: Platform, people: People, admin: Actor
) -> None:
    with platform.session() as db:
        svc.create_role(
            db,
            actor=admin,
            body=RoleCreate(name="rolemgr", permissions=["admin:roles", "project:read"]),
        )
    mgr = people.user("mgr", roles=("rolemgr",))
    with platform.session() as db, pytest.raises(PermissionDenied) as err:
        svc.create_role(db, actor=mgr, body=RoleCreate(name="big", permissions=["secret:read"]))
    assert err.value.details["missing"] == ["secret:read"]
    with platform.session() as db:
        svc.create_role(db, actor=mgr, body=RoleCreate(name="small", permissions=["project:read"]))
    # … nor grow a role past what the actor holds (it could bind itself to it first).
    with platform.session() as db, pytest.raises(PermissionDenied):
        svc.update_role(db, actor=mgr, name="rolemgr", body=RoleUpdate(permissions=["admin:users"]))


def test_system_roles_are_immutable(platform: Platform, admin: Actor) -> None:
    with platform.session() as db:
        with pytest.raises(Conflict):
            svc.update_role(db, actor=admin, name="viewer", body=RoleUpdate(description="x"))
        with pytest.raises(Conflict):
            svc.delete_role(db, actor=admin, name="agent", force=True)
        assert svc.get_role(db, actor=admin, name="viewer").description == "Read-only"


def test_updating_a_role_changes_its_holders_at_once(
    platform: Platform, people: People, admin: Actor
) -> None:
    with platform.session() as db:
        svc.create_role(db, actor=admin, body=RoleCreate(name="obs", permissions=["observe:read"]))
    olga = people.user("olga", roles=("obs",))
    assert not can(platform, olga, Perm.ALERT_MANAGE)  # warms the permission cache
    with platform.session() as db:
        role = svc.update_role(
            db,
            actor=admin,
            name="obs",
            body=RoleUpdate(description="Watch", permissions=["alert:manage", "observe:write"]),
        )
    assert role.permissions == ["alert:manage", "observe:write"]
    assert role.description == "Watch"
    assert can(platform, olga, Perm.ALERT_MANAGE)
    assert not can(platform, olga, Perm.OBSERVE_READ)
    (row,) = audit_rows(platform, "role.update")
    assert row.details["added"] == ["alert:manage", "observe:write"]
    assert row.details["removed"] == ["observe:read"]


def test_deleting_a_bound_role_needs_force(
    platform: Platform, people: People, admin: Actor
) -> None:
    with platform.session() as db:
        svc.create_role(db, actor=admin, body=RoleCreate(name="temp", permissions=["agent:run"]))
    tim = people.user("tim", roles=("temp",))
    assert can(platform, tim, Perm.AGENT_RUN)
    with platform.session() as db, pytest.raises(Conflict) as err:
        svc.delete_role(db, actor=admin, name="temp")
    assert err.value.details["bindings"] == 1
    with platform.session() as db:
        svc.delete_role(db, actor=admin, name="temp", force=True)
    assert not can(platform, tim, Perm.AGENT_RUN)
    with platform.session() as db, pytest.raises(NotFound):
        svc.get_role(db, actor=admin, name="temp")
    (row,) = audit_rows(platform, "role.delete")
    assert row.details["bindings_removed"] == [{"user": "tim", "project_id": None}]


# -- HTTP -----------------------------------------------------------------------------------
def test_http_reads_need_only_a_signed_in_actor(platform: Platform, people: People) -> None:
    bot = people.user("bot", roles=("agent",))
    headers = people.auth(people.token(bot))
    with api(platform) as c:
        assert c.get("/api/roles").status_code == 401
        assert c.get("/api/permissions").status_code == 401
        r = c.get("/api/permissions", headers=headers)
        assert r.status_code == 200
        assert {"name": "admin:roles", "description": Perm.ADMIN_ROLES.description} in r.json()
        r = c.get("/api/roles", headers=headers, params={"per_page": 2})
        assert r.json()["total"] == 5
        assert [x["name"] for x in r.json()["items"]] == ["admin", "agent"]
        assert c.get("/api/roles/ops", headers=headers).json()["is_system"] is True
        assert c.get("/api/roles/none", headers=headers).status_code == 404


def test_http_role_lifecycle(platform: Platform, people: People, admin: Actor) -> None:
    root = people.auth(people.token(admin))
    dev = people.auth(people.token(people.user("dev", roles=("developer",))))
    body = {"name": "auditor", "permissions": ["observe:read"], "description": "Reads logs"}
    with api(platform) as c:
        assert c.post("/api/roles", json=body).status_code == 401
        assert c.post("/api/roles", json=body, headers=dev).status_code == 403
        r = c.post("/api/roles", json=body, headers=root)
        assert r.status_code == 201, r.text
        assert r.json()["permissions"] == ["observe:read"]
        assert c.post("/api/roles", json=body, headers=root).json()["error"]["code"] == (
            "already_exists"
        )
        bad = c.post("/api/roles", json={"name": "x", "permissions": ["fly"]}, headers=root)
        assert bad.status_code == 422
        extra = c.post("/api/roles", json={"name": "y", "colour": "red"}, headers=root)
        assert extra.status_code == 422
        r = c.patch("/api/roles/auditor", json={"permissions": ["deploy:read"]}, headers=root)
        assert r.status_code == 200
        assert r.json()["permissions"] == ["deploy:read"]
        assert c.patch("/api/roles/auditor", json={}, headers=dev).status_code == 403
        assert c.patch("/api/roles/admin", json={}, headers=root).status_code == 409
        assert c.delete("/api/roles/developer", headers=root).status_code == 409
        assert c.delete("/api/roles/auditor", headers=dev).status_code == 403
        r = c.delete("/api/roles/auditor", headers=root)
        assert r.status_code == 204
        assert r.content == b""
        assert c.get("/api/roles/auditor", headers=root).status_code == 404


def test_http_delete_with_force_removes_bindings(
    platform: Platform, people: People, admin: Actor
) -> None:
    root = people.auth(people.token(admin))
    with api(platform) as c:
        c.post("/api/roles", json={"name": "ci", "permissions": ["project:write"]}, headers=root)
        cid = people.user("cid", roles=("ci",))
        r = c.delete("/api/roles/ci", headers=root)
        assert r.status_code == 409
        assert r.json()["error"]["details"] == {"role": "ci", "bindings": 1}
        assert c.delete("/api/roles/ci", params={"force": "true"}, headers=root).status_code == 204
    assert not can(platform, cid, Perm.PROJECT_WRITE)


# -- SDK ------------------------------------------------------------------------------------
def test_sdk_roles(platform: Platform, people: People) -> None:
    manager = RoleManager(platform)
    assert [r.name for r in manager.list()][:5] == sorted(SYSTEM_ROLES)
    assert "admin:roles" in {p.name for p in manager.catalogue()}
    role = manager.create("triage", [Perm.PROJECT_READ, "project:write"], description="Issues")
    assert repr(role) == "<Role triage: project:read, project:write>"
    assert role.permissions == ["project:read", "project:write"]
    role.update(permissions=["project:read"])
    assert manager.get("triage").permissions == ["project:read"]
    people.user("tess")
    role.bind("tess")
    assert [b.user for b in role.bindings] == ["tess"]
    with pytest.raises(Conflict):
        role.delete()
    role.delete(force=True)
    with pytest.raises(NotFound):
        manager.get("triage")
    assert "<table>" in manager.get("viewer")._repr_html_()


def test_sdk_as_a_non_admin_is_refused(platform: Platform, people: People) -> None:
    people.user("dev", roles=("developer",))
    with Platform(platform.settings, user="dev") as dev:
        assert RoleManager(dev).get("developer").is_system
        with pytest.raises(PermissionDenied):
            RoleManager(dev).create("mine")


# -- CLI ------------------------------------------------------------------------------------
def test_cli_roles_verbs(platform: Platform, people: People) -> None:
    for args in (
        [],
        ["list"],
        ["show"],
        ["create"],
        ["update"],
        ["delete"],
        ["permissions"],
        ["bindings"],
    ):
        result = run(platform, "roles", *args, "--help")
        assert result.exit_code == 0, (args, result.output)
    out = run(platform, "roles", "list")
    assert out.exit_code == 0
    assert out.output.splitlines()[0].split() == ["NAME", "SYSTEM", "PERMISSIONS", "DESCRIPTION"]
    created = run(
        platform, "roles", "create", "oncall", "-p", "deploy:read", "--description", "Pager"
    )
    assert created.exit_code == 0, created.output
    updated = run(
        platform,
        "roles",
        "update",
        "oncall",
        "--add",
        "deploy:promote",
        "--remove",
        "deploy:read",
        "--json",
    )
    assert json.loads(updated.output)["permissions"] == ["deploy:promote"]
    shown = json.loads(run(platform, "roles", "show", "oncall", "--json").output)
    assert shown["description"] == "Pager"
    catalogue = json.loads(run(platform, "roles", "permissions", "--json").output)
    assert len(catalogue) == len(Perm)
    assert run(platform, "roles", "delete", "oncall").output == "deleted role oncall\n"
    missing = run(platform, "roles", "show", "oncall")
    assert missing.exit_code == 1
    assert "error[not_found]" in missing.output


def test_cli_as_a_developer_is_refused(platform: Platform, people: People) -> None:
    people.user("dev", roles=("developer",))
    result = run(platform, "roles", "create", "mine", as_user="dev")
    assert result.exit_code == 1
    assert "error[permission_denied]" in result.output
    bad = run(platform, "roles", "create", "x", "-p", "fly")
    assert bad.exit_code == 2
    assert "fly" in bad.output
