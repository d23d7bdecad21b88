"""Delegations: grant what you hold, never re-delegate, expire and revoke at once; all fronts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from platform_sdk.clikit import PlatformGroup
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.core.types import utcnow
from platform_sdk.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_sdk.identity import rbac
from platform_sdk.identity.cli.roles import delegate, delegations, parse_duration, undelegate
from platform_sdk.identity.models import Delegation, User, UserKind
from platform_sdk.identity.schemas import DelegationCreate, DelegationOut
from platform_sdk.identity.sdk.delegations import DelegationManager
from platform_sdk.identity.services import delegations as svc
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


def lend(platform: Platform, grantor: Actor, grantee: str, perm: str, **kw: Any) -> DelegationOut:
    with platform.session() as db:
        return svc.create_delegation(
            db, actor=grantor, body=DelegationCreate(grantee=grantee, permission=perm, **kw)
        )


def revoke(platform: Platform, actor: Actor, delegation_id: uuid.UUID) -> DelegationOut:
    with platform.session() as db:
        return svc.revoke_delegation(db, actor=actor, delegation_id=delegation_id)


def expire(platform: Platform, delegation_id: uuid.UUID) -> None:
    with platform.session() as db:
        db.execute(
            update(Delegation)
            .where(Delegation.id == delegation_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def seen(platform: Platform, actor: Actor, **filters: Any) -> list[tuple[str, str, str]]:
    with platform.session() as db:
        page = svc.list_delegations(db, actor=actor, page=ALL, **filters)
    return sorted((d.grantor, d.grantee, d.permission) for d in page.items)


class World:
    """ops (global ops role), dev (developer in app only), bot (agent), app and other projects."""

    def __init__(self, people: People) -> None:
        owner = people.user("owner")
        self.app = people.project(owner, "app")
        self.other = people.project(owner, "other")
        self.ops = people.user("ops", roles=("ops",))
        self.dev = people.user("dev", project_roles={self.app: ("developer",)})
        self.bot = people.user("bot", roles=("agent",), kind=UserKind.AGENT, password=None)
        self.gone = people.user("gone", active=False)


@pytest.fixture
def world(people: People) -> World:
    return World(people)


# -- creating -------------------------------------------------------------------------------
def test_a_project_delegation_works_there_only_and_at_once(
    platform: Platform, world: World
) -> None:
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)  # warm the cache
    out = lend(platform, world.ops, "bot", "deploy:promote", project="owner/app", reason="release")
    assert (out.grantor, out.grantee, out.project, out.active) == ("ops", "bot", "owner/app", True)
    assert out.expires_at is None
    assert can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.other)
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE)
    with platform.session() as db:
        row = db.scalars(select(AuditLog).where(AuditLog.action == "delegation.create")).one()
        via = rbac.require(db, world.bot, Perm.DEPLOY_PROMOTE, world.app)
    assert via == out.id  # what the grantee does next is audited as coming through it
    assert row.details == {
        "grantee": "bot",
        "permission": "deploy:promote",
        "project": "owner/app",
        "expires_at": None,
        "reason": "release",
    }
    assert row.project_id == world.app


def test_a_global_delegation_reaches_every_project(platform: Platform, world: World) -> None:
    until = utcnow() + timedelta(hours=1)
    out = lend(platform, world.ops, "bot", "secret:read", expires_at=until)
    assert out.expires_at == until
    assert can(platform, world.bot, Perm.SECRET_READ)
    assert can(platform, world.bot, Perm.SECRET_READ, world.other)


def test_invalid_requests(platform: Platform, world: World) -> None:
    with pytest.raises(ValidationFailed, match="yourself"):
        lend(platform, world.ops, "ops", "deploy:read")
    with pytest.raises(ValidationFailed, match="timezone"):
        lend(platform, world.ops, "bot", "deploy:read", expires_at=datetime(2999, 1, 1))
    with pytest.raises(ValidationFailed, match="future"):
        lend(platform, world.ops, "bot", "deploy:read", expires_at=utcnow() - timedelta(1))
    with pytest.raises(NotFound):
        lend(platform, world.ops, "nobody", "deploy:read")
    with pytest.raises(NotFound):
        lend(platform, world.ops, "gone", "deploy:read")
    with pytest.raises(NotFound):  # dev cannot read project other
        lend(platform, world.dev, "bot", "project:write", project="owner/other")


def test_the_grantor_must_hold_the_permission_in_that_scope(
    platform: Platform, world: World
) -> None:
    with pytest.raises(PermissionDenied, match="does not hold"):
        lend(platform, world.ops, "bot", "project:write")
    lend(platform, world.dev, "bot", "project:write", project="owner/app")
    with pytest.raises(PermissionDenied):  # held in app, not globally
        lend(platform, world.dev, "ops", "project:write")


def test_re_delegation_is_refused_and_says_why(platform: Platform, world: World) -> None:
    lend(platform, world.ops, "dev", "deploy:promote", project="owner/app")
    assert can(platform, world.dev, Perm.DEPLOY_PROMOTE, world.app)
    with pytest.raises(PermissionDenied, match="only by delegation") as err:
        lend(platform, world.dev, "bot", "deploy:promote", project="owner/app")
    assert err.value.details["reason"] == "re-delegation"


def test_one_active_delegation_per_grant_and_expired_ones_are_replaced(
    platform: Platform, world: World
) -> None:
    first = lend(platform, world.ops, "bot", "deploy:read", project="owner/app")
    with pytest.raises(AlreadyExists):
        lend(platform, world.ops, "bot", "deploy:read", project="owner/app")
    lend(platform, world.ops, "bot", "deploy:read")  # global is a different grant
    expire(platform, first.id)
    second = lend(platform, world.ops, "bot", "deploy:read", project="owner/app")
    with platform.session() as db:
        old = svc.get_delegation(db, actor=world.ops, delegation_id=first.id)
    assert old.revoked_at is not None
    assert not old.active
    assert second.active
    assert second.id != first.id


def test_a_deactivated_grantors_delegations_stop(
    platform: Platform, people: People, admin: Actor
) -> None:
    boss = people.user("boss", roles=("ops",))
    helper = people.user("helper")
    made = lend(platform, boss, "helper", "deploy:read")
    assert can(platform, helper, Perm.DEPLOY_READ)
    with platform.session() as db:
        db.get_one(User, boss.user_id).is_active = False
        rbac.rbac_changed(db, "user.deactivate")
    assert not can(platform, helper, Perm.DEPLOY_READ)
    with platform.session() as db:
        assert not svc.get_delegation(db, actor=admin, delegation_id=made.id).active
    assert seen(platform, admin, active=True) == []


# -- expiry and revocation ------------------------------------------------------------------
def test_expiry_stops_a_delegation_without_any_event(
    platform: Platform, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    lend(
        platform,
        world.ops,
        "bot",
        "deploy:promote",
        project="owner/app",
        expires_at=now + timedelta(hours=1),
    )
    assert can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)  # cached now
    later = now + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(rbac, "utcnow", lambda: later)  # the clock passes expires_at
    monkeypatch.setattr(svc, "utcnow", lambda: later)
    monkeypatch.setattr("platform_sdk.identity.grants.utcnow", lambda: later)
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)
    assert seen(platform, world.bot, active=True) == []
    assert seen(platform, world.bot, active=False) == [("ops", "bot", "deploy:promote")]


def test_an_expiry_written_to_the_database_is_honoured(platform: Platform, world: World) -> None:
    made = lend(platform, world.ops, "bot", "deploy:promote", project="owner/app")
    expire(platform, made.id)
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)
    with platform.session() as db:
        assert not svc.get_delegation(db, actor=world.bot, delegation_id=made.id).active


def test_revocation(platform: Platform, admin: Actor, world: World) -> None:
    made = lend(platform, world.ops, "bot", "secret:read", project="owner/app")
    assert can(platform, world.bot, Perm.SECRET_READ, world.app)
    with pytest.raises(PermissionDenied):  # the grantee sees it but cannot revoke it
        revoke(platform, world.bot, made.id)
    with pytest.raises(NotFound):  # a stranger does not see it
        revoke(platform, world.dev, made.id)
    out = revoke(platform, world.ops, made.id)
    assert not out.active
    assert out.revoked_at is not None
    assert not can(platform, world.bot, Perm.SECRET_READ, world.app)
    with pytest.raises(Conflict, match="already revoked"):
        revoke(platform, world.ops, made.id)
    again = lend(platform, world.ops, "bot", "secret:read", project="owner/app")
    revoke(platform, admin, again.id)  # an admin may revoke anyone's
    with platform.session() as db:
        rows = db.scalars(select(AuditLog).where(AuditLog.action == "delegation.revoke")).all()
    assert sorted(r.actor_name for r in rows) == ["admin", "ops"]
    assert rows[0].details["permission"] == "secret:read"
    assert rows[0].details["project"] == "owner/app"


def test_who_sees_which_delegations(platform: Platform, admin: Actor, world: World) -> None:
    lend(platform, world.ops, "bot", "deploy:read")
    lend(platform, world.dev, "bot", "project:write", project="owner/app")
    lend(platform, world.ops, "dev", "secret:read")
    assert len(seen(platform, admin)) == 3
    assert seen(platform, world.dev) == [
        ("dev", "bot", "project:write"),
        ("ops", "dev", "secret:read"),
    ]
    assert seen(platform, world.bot, grantor="ops") == [("ops", "bot", "deploy:read")]
    assert seen(platform, admin, grantee="dev") == [("ops", "dev", "secret:read")]
    assert seen(platform, admin, project="owner/app") == [("dev", "bot", "project:write")]
    with platform.session() as db, pytest.raises(NotFound):
        svc.get_delegation(db, actor=world.dev, delegation_id=uuid.uuid4())


# -- HTTP -----------------------------------------------------------------------------------
def test_http_delegations(platform: Platform, people: People, world: World) -> None:
    ops = people.auth(people.token(world.ops))
    bot = people.auth(people.token(world.bot))
    dev = people.auth(people.token(world.dev))
    body = {"grantee": "bot", "permission": "deploy:promote", "project": "owner/app"}
    with api(platform) as c:
        assert c.post("/api/delegations", json=body).status_code == 401
        assert c.post("/api/delegations", json=body, headers=dev).status_code == 403
        r = c.post("/api/delegations", json=body, headers=ops)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["active"] is True
        assert c.post("/api/delegations", json=body, headers=ops).status_code == 409
        assert (
            c.post("/api/delegations", json={**body, "grantee": "ops"}, headers=ops).json()[
                "error"
            ]["code"]
            == "validation_failed"
        )
        past = {**body, "expires_at": "2000-01-01T00:00:00Z"}
        assert c.post("/api/delegations", json=past, headers=ops).status_code == 422
        bad = {**body, "permission": "fly"}
        assert c.post("/api/delegations", json=bad, headers=ops).status_code == 422
        listed = c.get("/api/delegations", params={"active": "true"}, headers=bot).json()
        assert [d["id"] for d in listed["items"]] == [made["id"]]
        assert c.get("/api/delegations", headers=dev).json()["total"] == 0
        assert c.get(f"/api/delegations/{made['id']}", headers=dev).status_code == 404
        assert c.delete(f"/api/delegations/{made['id']}", headers=bot).status_code == 403
        assert c.delete(f"/api/delegations/{made['id']}", headers=ops).status_code == 204
        after = c.get(f"/api/delegations/{made['id']}", headers=bot).json()
        assert after["active"] is False
        inactive = c.get("/api/delegations", params={"active": "false"}, headers=ops).json()
        assert inactive["total"] == 1
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)


# -- SDK and CLI ----------------------------------------------------------------------------
def test_sdk_delegations(platform: Platform, world: World) -> None:
    with Platform(platform.settings, user="ops") as ops:
        manager = DelegationManager(ops)
        made = manager.create("bot", Perm.DEPLOY_PROMOTE, project="owner/app", until=timedelta(1))
        assert repr(made) == "<Delegation ops→bot deploy:promote in owner/app (active)>"
        assert made.active
        assert made.expires_at is not None
        assert [d.id for d in manager.list(active=True)] == [made.id]
        assert manager.get(made.id) == made
        assert made.revoke() is made
        assert not made.active
        assert made.refresh().revoked_at is not None
        assert len(manager.list(active=True)) == 0
        with pytest.raises(PermissionDenied, match="does not hold"):
            manager.create("bot", "project:write")


def test_parse_duration() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1w2d") == timedelta(days=9)
    for bad in ("", "2", "h", "2x", "0h", "2h junk"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def _cli(platform: Platform, *args: str, as_user: str | None = "ops") -> Result:
    group = PlatformGroup(
        commands={"delegate": delegate, "undelegate": undelegate, "delegations": delegations}
    )
    obj = {"settings": platform.settings, "as_user": as_user}
    return CliRunner().invoke(group, list(args), obj=obj)


def test_cli_delegate_list_undelegate(platform: Platform, world: World) -> None:
    for verb in ("delegate", "undelegate", "delegations"):
        assert _cli(platform, verb, "--help").exit_code == 0
    out = _cli(
        platform,
        "delegate",
        "deploy:promote",
        "bot",
        "--project",
        "owner/app",
        "--for",
        "2h",
        "--reason",
        "release",
        "--json",
    )
    assert out.exit_code == 0, out.output
    made = json.loads(out.stdout)
    expires = datetime.fromisoformat(made["expires_at"])
    assert timedelta(minutes=119) < expires - utcnow() <= timedelta(hours=2)
    text = _cli(platform, "delegate", "secret:read", "bot", "--until", "2999-01-01T00:00:00Z")
    assert text.exit_code == 0, text.output
    assert "2999-01-01 00:00:00" in text.output
    naive = _cli(platform, "delegate", "secret:write", "bot", "--until", "2999-01-01T00:00:00")
    assert naive.exit_code == 1
    assert "timezone" in naive.output
    both = _cli(platform, "delegate", "secret:write", "bot", "--for", "1h", "--until", "2999")
    assert both.exit_code == 2
    assert _cli(platform, "delegate", "secret:write", "bot", "--for", "soon").exit_code == 2
    redelegate = _cli(platform, "delegate", "secret:read", "dev", as_user="bot")
    assert redelegate.exit_code == 1
    assert "only by delegation" in redelegate.output
    listed = json.loads(_cli(platform, "delegations", "--active", "--json").stdout)
    assert len(listed) == 2
    gone = _cli(platform, "undelegate", made["id"], "--json")
    assert json.loads(gone.stdout)["active"] is False
    inactive = _cli(platform, "delegations", "--inactive")
    assert inactive.output.splitlines()[0].split()[:4] == ["ID", "GRANTOR", "GRANTEE", "PERMISSION"]
    assert made["id"] in inactive.output
    assert not can(platform, world.bot, Perm.DEPLOY_PROMOTE, world.app)


def test_filtering_delegations_by_an_unknown_user_is_404(
    platform: Platform, people: People, world: World
) -> None:
    lend(platform, world.ops, "bot", "deploy:read")
    bot = people.auth(people.token(world.bot))
    with api(platform) as c:
        for key in ("user", "grantor", "grantee"):
            r = c.get("/api/delegations", params={key: "nobody-here"}, headers=bot)
            assert r.status_code == 404, (key, r.text)
            assert r.json()["error"]["message"] == "user 'nobody-here' not found"
        # user= keeps what the user grants or receives
        for who in ("ops", "bot"):
            listed = c.get("/api/delegations", params={"user": who}, headers=bot).json()
            assert [(d["grantor"], d["grantee"]) for d in listed["items"]] == [("ops", "bot")]
        assert c.get("/api/delegations", params={"user": "dev"}, headers=bot).json()["total"] == 0
