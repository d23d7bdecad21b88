"""The RBAC matrix: every system role x permission x scope: delegation, tokens, HTTP, processes.

The expected answers are computed from ``SYSTEM_ROLES`` (the code's own catalogue), so a change
to a role's permissions changes the expectation with it. A global binding grants the role's
permissions everywhere; a binding on project A grants them on A only — never globally and never
on another project B.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from platform_sdk.config import load_settings
from platform_sdk.core.access import SYSTEM_ROLES, Actor, Perm
from platform_sdk.core.types import utcnow
from platform_sdk.errors import PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.identity.models import Delegation, UserKind
from platform_sdk.identity.schemas import DelegationCreate, DelegationOut
from platform_sdk.identity.services import delegations as delegation_svc
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People


def can(platform: Platform, actor: Actor, perm: Perm | str, project: Any = None) -> bool:
    with platform.session() as db:
        return rbac.can(db, actor, perm, project)


def lend(platform: Platform, grantor: Actor, grantee: str, perm: str, **kw: Any) -> DelegationOut:
    with platform.session() as db:
        return delegation_svc.create_delegation(
            db, actor=grantor, body=DelegationCreate(grantee=grantee, permission=perm, **kw)
        )


def revoke(platform: Platform, actor: Actor, delegation_id: uuid.UUID) -> None:
    with platform.session() as db:
        delegation_svc.revoke_delegation(db, actor=actor, delegation_id=delegation_id)


# -- role x permission x scope --------------------------------------------------------------
@pytest.mark.parametrize("role", sorted(SYSTEM_ROLES))
def test_system_role_matrix(platform: Platform, people: People, role: str) -> None:
    owner = people.user("owner")
    a, b = people.project(owner, "a"), people.project(owner, "b")
    bound_globally = people.user("everywhere", roles=(role,))
    bound_on_a = people.user("on-a", project_roles={a: (role,)})
    holds = {p.value for p in SYSTEM_ROLES[role][1]}
    wrong = []
    with platform.session() as db:
        for perm in Perm:
            held = perm.value in holds
            cases = {
                ("global binding", "global"): (bound_globally, None, held),
                ("global binding", "project A"): (bound_globally, a, held),
                ("global binding", "project B"): (bound_globally, b, held),
                ("binding on A", "global"): (bound_on_a, None, False),
                ("binding on A", "project A"): (bound_on_a, a, held),
                ("binding on A", "project B"): (bound_on_a, b, False),
            }
            for (binding, where), (actor, project, expected) in cases.items():
                if rbac.can(db, actor, perm, project) is not expected:
                    wrong.append(f"{role} {perm} {binding} checked on {where}: expected {expected}")
                if rbac.held_without_delegation(db, actor, perm, project) is not expected:
                    wrong.append(f"{role} {perm} {binding} on {where}: own-role answer differs")
        assert rbac.effective_permissions(db, bound_globally, b) == holds
        assert rbac.effective_permissions(db, bound_on_a, a) == holds
        assert rbac.effective_permissions(db, bound_on_a, b) == set()
    assert not wrong, "\n".join(wrong)


# -- delegation -----------------------------------------------------------------------------
class Cast:
    def __init__(self, people: People) -> None:
        owner = people.user("owner")
        self.a, self.b = people.project(owner, "a"), people.project(owner, "b")
        self.ops = people.user("ops", roles=("ops",))
        self.bot = people.user("bot", roles=("agent",), kind=UserKind.AGENT, password=None)
        self.helper = people.user("helper", roles=("viewer",))


@pytest.fixture
def cast(people: People) -> Cast:
    return Cast(people)


def test_delegation_granted_works_at_once_where_granted(platform: Platform, cast: Cast) -> None:
    perm = Perm.DEPLOY_PROMOTE
    assert not can(platform, cast.bot, perm, cast.a)  # the cache is warm before the grant
    on_a = lend(platform, cast.ops, "bot", perm.value, project="owner/a")
    assert (can(platform, cast.bot, perm, cast.a), can(platform, cast.bot, perm, cast.b)) == (
        True,
        False,
    )
    assert not can(platform, cast.bot, perm)
    lend(platform, cast.ops, "bot", Perm.SECRET_READ.value)  # global: every project
    assert all(can(platform, cast.bot, Perm.SECRET_READ, p) for p in (None, cast.a, cast.b))
    with platform.session() as db:
        assert rbac.check(db, cast.bot, perm, cast.a) == (True, on_a.id)
        assert not rbac.held_without_delegation(db, cast.bot, perm, cast.a)


def test_delegation_expired_is_denied_at_once(
    platform: Platform, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = lend(platform, cast.ops, "bot", "deploy:read", project="owner/a")
    with platform.session() as db:  # expired in the database …
        db.execute(
            update(Delegation)
            .where(Delegation.id == made.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert not can(platform, cast.bot, Perm.DEPLOY_READ, cast.a)
    # … or by the clock passing a stored expiry while the grant sits in the cache.
    until = utcnow() + timedelta(minutes=5)
    lend(platform, cast.ops, "bot", "deploy:read", project="owner/a", expires_at=until)
    assert can(platform, cast.bot, Perm.DEPLOY_READ, cast.a)
    monkeypatch.setattr(rbac, "utcnow", lambda: until + timedelta(microseconds=1))
    assert not can(platform, cast.bot, Perm.DEPLOY_READ, cast.a)


def test_delegation_revoked_is_denied_at_once(platform: Platform, cast: Cast) -> None:
    made = lend(platform, cast.ops, "bot", "alert:manage")
    assert can(platform, cast.bot, Perm.ALERT_MANAGE, cast.b)  # cached
    revoke(platform, cast.ops, made.id)
    assert not can(platform, cast.bot, Perm.ALERT_MANAGE, cast.b)
    assert not can(platform, cast.bot, Perm.ALERT_MANAGE)


def test_re_delegation_is_refused(platform: Platform, cast: Cast) -> None:
    lend(platform, cast.ops, "helper", "secret:read")
    assert can(platform, cast.helper, Perm.SECRET_READ)
    with pytest.raises(PermissionDenied, match="only by delegation"):
        lend(platform, cast.helper, "bot", "secret:read")
    assert not can(platform, cast.bot, Perm.SECRET_READ)


# -- tokens ---------------------------------------------------------------------------------
def test_token_scopes_and_project_boundary_narrow(platform: Platform, cast: Cast) -> None:
    scoped = replace(cast.ops, scopes=frozenset({"deploy:read"}))
    assert can(platform, scoped, Perm.DEPLOY_READ, cast.a)
    assert not can(platform, scoped, Perm.DEPLOY_PROMOTE, cast.a)
    assert not can(platform, scoped, Perm.DEPLOY_PROMOTE)
    bounded = replace(cast.ops, project_id=cast.a)
    assert can(platform, bounded, Perm.DEPLOY_PROMOTE, cast.a)
    assert not can(platform, bounded, Perm.DEPLOY_PROMOTE, cast.b)
    assert not can(platform, bounded, Perm.DEPLOY_PROMOTE)
    lend(platform, cast.ops, "bot", "deploy:read", project="owner/b")
    assert not can(platform, replace(cast.bot, project_id=cast.a), Perm.DEPLOY_READ, cast.b)
    # A narrowed token cannot delegate what it does not reach.
    with pytest.raises(PermissionDenied):
        lend(platform, scoped, "bot", "secret:read")
    with pytest.raises(PermissionDenied):
        lend(platform, bounded, "bot", "secret:read")


# -- through HTTP ---------------------------------------------------------------------------
@contextmanager
def api(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_http_matrix(platform: Platform, people: People, admin: Actor) -> None:
    owner = people.user("owner")
    a, _ = people.project(owner, "a"), people.project(owner, "b")
    bot = people.user("bot", roles=("agent",), kind=UserKind.AGENT, password=None)
    for perm in ("admin:roles", "project:read"):
        lend(platform, admin, "bot", perm, project="owner/a")
    tokens: dict[str, str | None] = {
        "admin": people.token(admin),
        "developer": people.token(people.user("dev", roles=("developer",))),
        "viewer": people.token(people.user("viewer", roles=("viewer",))),
        "admin of A": people.token(people.user("pa", project_roles={a: ("admin",)})),
        "admin, token scoped to project:read": people.token(admin, scopes=["project:read"]),
        "admin, token bounded to A": people.token(admin, project_id=a),
        "agent with admin:roles delegated on A": people.token(bot),
        "no credentials": None,
    }
    expected = {  # POST /api/roles, bind on A, bind on B, GET /api/roles
        "admin": (201, 201, 201, 200),
        "developer": (403, 403, 403, 200),
        "viewer": (403, 403, 403, 200),
        "admin of A": (403, 201, 404, 200),
        "admin, token scoped to project:read": (403, 403, 403, 200),
        "admin, token bounded to A": (403, 201, 404, 200),
        "agent with admin:roles delegated on A": (403, 201, 404, 200),
        "no credentials": (401, 401, 401, 401),
    }
    got = {}
    with api(platform) as c:
        for n, (who, raw) in enumerate(tokens.items()):
            headers = people.auth(raw) if raw else {}
            target = people.user(f"target{n}").username  # a fresh grantee: no duplicates
            got[who] = (
                c.post("/api/roles", json={"name": f"role{n}"}, headers=headers).status_code,
                c.post(
                    "/api/bindings",
                    json={"user": target, "role": "agent", "project": "owner/a"},
                    headers=headers,
                ).status_code,
                c.post(
                    "/api/bindings",
                    json={"user": target, "role": "agent", "project": "owner/b"},
                    headers=headers,
                ).status_code,
                c.get("/api/roles", headers=headers).status_code,
            )
        # Escalation through HTTP: the agent may not bind a role stronger than its grant.
        agent = people.auth(tokens["agent with admin:roles delegated on A"] or "")
        r = c.post(
            "/api/bindings",
            json={"user": "target0", "role": "viewer", "project": "owner/a"},
            headers=agent,
        )
        assert r.status_code == 403
        assert "deploy:read" in r.json()["error"]["details"]["missing"]
        # Revoking the agent's delegations takes its power away on the next request.
        root = people.auth(tokens["admin"] or "")
        listed = c.get("/api/delegations", params={"grantee": "bot"}, headers=root).json()
        assert listed["total"] == 2
        for item in listed["items"]:
            assert c.delete(f"/api/delegations/{item['id']}", headers=root).status_code == 204
        after = c.post(
            "/api/bindings",
            json={"user": "target1", "role": "agent", "project": "owner/a"},
            headers=agent,
        )
        assert after.status_code == 404  # it cannot even see project A any more
    assert got == expected


# -- two processes over one database and a Valkey bus ---------------------------------------
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_revocation_reaches_another_platform_over_the_bus(
    db_url: str, tmp_path: Path, valkey_url: str, valkey_prefix: str
) -> None:
    one = Platform(
        load_settings(
            data_dir=tmp_path / "one",
            database_url=db_url,
            valkey_url=valkey_url,
            valkey_prefix=valkey_prefix,
        )
    )
    two = Platform(
        load_settings(
            data_dir=tmp_path / "two",
            database_url=db_url,
            valkey_url=valkey_url,
            valkey_prefix=valkey_prefix,
        )
    )
    try:
        one.initialise()
        people = People(one)
        ops = people.user("ops", roles=("ops",))
        bot = people.user("bot", roles=("agent",), kind=UserKind.AGENT, password=None)
        app = people.project(ops, "app")
        made = lend(one, ops, "bot", "deploy:promote", project="ops/app")
        assert can(two, bot, Perm.DEPLOY_PROMOTE, app)  # platform two caches the grant
        revoke(one, ops, made.id)
        assert not can(one, bot, Perm.DEPLOY_PROMOTE, app)
        deadline = time.monotonic() + 5.0
        while can(two, bot, Perm.DEPLOY_PROMOTE, app):
            assert time.monotonic() < deadline, "platform two never heard of the revocation"
            time.sleep(0.02)
    finally:
        two.close()
        one.close()
