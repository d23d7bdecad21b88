"""API tokens: shown once, stored hashed, narrowed by scopes and projects, revoked for good."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from platform_sdk.core.types import utcnow
from platform_sdk.errors import Conflict, NotFound, ValidationFailed
from platform_sdk.identity.authn import authenticate
from platform_sdk.identity.cli.tokens import tokens as tokens_cli
from platform_sdk.identity.models import ApiToken, UserKind
from platform_sdk.identity.sdk.tokens import TokenManager
from platform_sdk.identity.sdk.users import UserManager
from platform_sdk.projects.services.projects import get_project
from platform_sdk.sdk import Platform
from tests.identity.userkit import api, assert_audit_clean, audit_rows, run_cli
from tests.plugins.platforms import People


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_a_token_is_shown_once_and_stored_hashed(platform: Platform, people: People) -> None:
    bob = people.auth(people.token(people.user("bob")))
    with api(platform) as c:
        r = c.post("/api/tokens", json={"name": "laptop"}, headers=bob)
        assert r.status_code == 201, r.text
        assert r.headers["cache-control"] == "no-store"
        created = r.json()
        raw = created["token"]
        assert raw.startswith("plat_")
        assert len(raw) > 40
        assert created["prefix"] == raw[5:13]
        assert created["user"] == "bob"
        assert created["scopes"] is None
        listed = c.get("/api/tokens", headers=bob)
        assert raw not in listed.text
        (item,) = [t for t in listed.json()["items"] if t["name"] == "laptop"]
        assert "token" not in item
        one = c.get(f"/api/tokens/{created['id']}", headers=bob)
        assert one.status_code == 200
        assert raw not in one.text
    with platform.session() as db:
        row = db.scalars(select(ApiToken).where(ApiToken.name == "laptop")).one()
        assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        columns = [str(getattr(row, col.key)) for col in ApiToken.__table__.columns]
        assert not [value for value in columns if raw in value]
    (audit,) = audit_rows(platform, "token.create")
    assert audit.target_id == created["id"]
    assert audit.details["name"] == "laptop"
    assert_audit_clean(platform, raw)


def test_a_token_authenticates_and_records_its_last_use(platform: Platform, people: People) -> None:
    people.user("bob")
    with api(platform) as c:
        c.post("/api/auth/login", json={"username": "bob", "password": People.PASSWORD})
        created = c.post("/api/tokens", json={"name": "ci"}).json()
        c.cookies.clear()
        assert created["last_used_at"] is None
        me = c.get("/api/auth/me", headers=_bearer(created["token"]))
        assert me.status_code == 200
        assert me.json()["user"]["username"] == "bob"
        assert me.json()["via_token"] == created["id"]
        again = c.get(f"/api/tokens/{created['id']}", headers=_bearer(created["token"])).json()
        assert again["last_used_at"] is not None


def test_expired_and_revoked_tokens_answer_401(platform: Platform, people: People) -> None:
    bob = people.auth(people.token(people.user("bob")))
    with api(platform) as c:
        soon = (utcnow() + timedelta(hours=1)).isoformat()
        short = c.post("/api/tokens", json={"name": "short", "expires_at": soon}, headers=bob)
        assert short.status_code == 201, short.text
        with platform.session() as db:
            db.get_one(ApiToken, uuid.UUID(short.json()["id"])).expires_at = utcnow() - timedelta(
                seconds=1
            )
        assert c.get("/api/auth/me", headers=_bearer(short.json()["token"])).status_code == 401
        doomed = c.post("/api/tokens", json={"name": "doomed"}, headers=bob).json()
        assert c.get("/api/auth/me", headers=_bearer(doomed["token"])).status_code == 200
        assert c.delete(f"/api/tokens/{doomed['id']}", headers=bob).status_code == 204
        assert c.get("/api/auth/me", headers=_bearer(doomed["token"])).status_code == 401
        r = c.delete(f"/api/tokens/{doomed['id']}", headers=bob)
        assert r.status_code == 409
        assert "already revoked" in r.json()["error"]["message"]
        names = [t["name"] for t in c.get("/api/tokens", headers=bob).json()["items"]]
        assert "doomed" not in names
        everything = c.get("/api/tokens", params={"include_revoked": True}, headers=bob).json()
        assert "doomed" in [t["name"] for t in everything["items"]]
        # A revoked token's name is free again.
        assert c.post("/api/tokens", json={"name": "doomed"}, headers=bob).status_code == 201
        assert c.post("/api/tokens", json={"name": "doomed"}, headers=bob).status_code == 409
    revoked = audit_rows(platform, "token.revoke")
    assert [(r.target_id, r.details["name"]) for r in revoked] == [(doomed["id"], "doomed")]
    assert_audit_clean(platform, doomed["token"], short.json()["token"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "past", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at: must be in"),
        ({"name": "naive", "expires_at": "2099-01-01T00:00:00"}, "expires_at: give a timezone"),
        ({"name": "bad", "scopes": ["root:everything"]}, "body.scopes.0:"),
        ({"name": ""}, "body.name:"),
    ],
)
def test_invalid_token_requests_are_422(
    platform: Platform, people: People, body: dict[str, object], fragment: str
) -> None:
    bob = people.auth(people.token(people.user("bob")))
    with api(platform) as c:
        r = c.post("/api/tokens", json=body, headers=bob)
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith(fragment)


def test_scopes_narrow_what_a_token_may_do(platform: Platform, people: People) -> None:
    root = people.user("root", roles=("admin",))
    people.user("bob")
    full = people.auth(people.token(root))
    with api(platform) as c:
        created = c.post(
            "/api/tokens", json={"name": "read-only", "scopes": ["project:read"]}, headers=full
        ).json()
        narrow = _bearer(created["token"])
        r = c.post("/api/users", json={"username": "carol"}, headers=narrow)
        assert r.status_code == 403
        assert c.get("/api/users/bob", headers=narrow).status_code == 404
        assert c.get("/api/users/bob", headers=full).status_code == 200
        # A narrow token cannot mint a wider one, and passes its scopes on.
        wider = {"name": "wider", "scopes": ["admin:users"]}
        assert c.post("/api/tokens", json=wider, headers=narrow).status_code == 403
        child = c.post("/api/tokens", json={"name": "child"}, headers=narrow).json()
        assert child["scopes"] == ["project:read"]
        r = c.patch("/api/users/root", json={"display_name": "x"}, headers=narrow)
        assert r.status_code == 403


def test_a_project_bounded_token_stays_in_its_project(platform: Platform, people: People) -> None:
    root = people.user("root", roles=("admin",))
    app = people.project(root, "app")
    people.project(root, "other")
    full = people.auth(people.token(root))
    with api(platform) as c:
        r = c.post("/api/tokens", json={"name": "app-ci", "project": "root/app"}, headers=full)
        assert r.status_code == 201, r.text
        assert r.json()["project_id"] == str(app)
        bounded_raw = r.json()["token"]
        bounded = _bearer(bounded_raw)
        assert c.post("/api/users", json={"username": "x"}, headers=bounded).status_code == 403
        outside = {"name": "escape", "project": "root/other"}
        assert c.post("/api/tokens", json=outside, headers=bounded).status_code == 404
        inherited = c.post("/api/tokens", json={"name": "sub"}, headers=bounded).json()
        assert inherited["project_id"] == str(app)
        missing = {"name": "nope", "project": "root/missing"}
        assert c.post("/api/tokens", json=missing, headers=full).status_code == 404
    with platform.session() as db:
        actor = authenticate(db, bounded_raw)
        assert get_project(db, actor=actor, ref="root/app").name == "app"
        with pytest.raises(NotFound):
            get_project(db, actor=actor, ref="root/other")


def test_who_may_list_and_revoke_whose_tokens(platform: Platform, people: People) -> None:
    root = people.auth(people.token(people.user("root", roles=("admin",))))
    bob_actor = people.user("bob")
    bob = people.auth(people.token(bob_actor, name="bob-main"))
    alice = people.auth(people.token(people.user("alice")))
    with api(platform) as c:
        bobs = c.post("/api/tokens", json={"name": "ci"}, headers=bob).json()
        assert c.get("/api/tokens", params={"user": "bob"}, headers=alice).status_code == 404
        assert c.get(f"/api/tokens/{bobs['id']}", headers=alice).status_code == 404
        assert c.delete(f"/api/tokens/{bobs['id']}", headers=alice).status_code == 404
        for_bob = {"name": "sneaky", "user": "bob"}
        assert c.post("/api/tokens", json=for_bob, headers=alice).status_code == 404
        listed = c.get("/api/tokens", params={"user": "bob"}, headers=root).json()
        assert {t["name"] for t in listed["items"]} == {"bob-main", "ci"}
        assert c.delete(f"/api/tokens/{bobs['id']}", headers=root).status_code == 204
        made = c.post("/api/tokens", json={"name": "by-admin", "user": "bob"}, headers=root)
        assert made.status_code == 201
        assert made.json()["user"] == "bob"
        assert c.delete(f"/api/tokens/{made.json()['id']}", headers=bob).status_code == 204
        assert c.delete("/api/tokens/not-a-uuid", headers=bob).status_code == 422
    actors = [r.actor_name for r in audit_rows(platform, "token.revoke")]
    assert actors == ["root", "bob"]


def test_an_agent_owner_gives_its_agent_a_token(platform: Platform, people: People) -> None:
    dev = people.auth(people.token(people.user("dev", roles=("developer",))))
    other = people.auth(people.token(people.user("other", roles=("developer",))))
    with api(platform) as c:
        c.post("/api/users", json={"username": "dev-bot", "kind": "agent"}, headers=dev)
        r = c.post("/api/tokens", json={"name": "run", "user": "dev-bot"}, headers=dev)
        assert r.status_code == 201, r.text
        agent_token = r.json()
        me = c.get("/api/auth/me", headers=_bearer(agent_token["token"])).json()
        assert me["user"]["username"] == "dev-bot"
        assert me["user"]["kind"] == "agent"
        assert me["permissions"] == []
        listed = c.get("/api/tokens", params={"user": "dev-bot"}, headers=dev).json()
        assert [t["name"] for t in listed["items"]] == ["run"]
        assert c.delete(f"/api/tokens/{agent_token['id']}", headers=other).status_code == 404
        assert c.delete(f"/api/tokens/{agent_token['id']}", headers=dev).status_code == 204
        c.post("/api/users/dev-bot/deactivate", headers=dev)
        r = c.post("/api/tokens", json={"name": "again", "user": "dev-bot"}, headers=dev)
        assert r.status_code == 409


def test_sdk_creates_and_revokes_tokens(platform: Platform, people: People) -> None:
    manager = TokenManager(platform)
    token = manager.create("notebook", expires_at=timedelta(days=1), scopes=["observe:read"])
    raw = token.token
    assert raw.startswith("plat_")
    assert raw not in repr(token)
    assert raw not in token._repr_html_()
    assert repr(token) == f"<Token 'notebook' plat_{token.prefix}… of admin>"
    with platform.session() as db:
        assert authenticate(db, raw).scopes == frozenset({"observe:read"})
    assert [t.name for t in manager.list()] == ["notebook"]
    assert token.revoke().revoked_at is not None
    assert "revoked" in repr(token)
    with pytest.raises(Conflict):
        token.revoke()
    assert list(manager.list()) == []
    assert [t.name for t in manager.list(include_revoked=True)] == ["notebook"]
    bot = UserManager(platform).create("helper-bot", kind="agent")
    bot_token = bot.tokens.create("work")
    assert bot_token.user == "helper-bot"
    assert [t.name for t in bot.tokens.list()] == ["work"]
    people.user("bob")
    with Platform(platform.settings, user="bob") as as_bob:
        bobs = TokenManager(as_bob)
        with pytest.raises(NotFound):
            bobs.revoke(bot_token.id)
        with pytest.raises(NotFound):
            UserManager(as_bob).get("helper-bot")
        assert bobs.create("mine").user == "bob"
    people.user("zed-bot", kind=UserKind.AGENT, password=None)
    with pytest.raises(ValidationFailed, match=r"^scopes\.0: .*unknown permission 'nope'"):
        UserManager(platform).get("zed-bot").tokens.create("x", scopes=["nope"])


def test_cli_creates_lists_and_revokes_tokens(platform: Platform, people: People) -> None:
    result = run_cli(platform, tokens_cli, ["create", "deploy", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    raw = created["token"]
    assert raw.startswith("plat_")
    result = run_cli(
        platform,
        tokens_cli,
        ["create", "ci", "--scope", "project:read", "--expires-in", "30d"],
    )
    assert result.exit_code == 0, result.output
    assert "plat_" in result.stdout
    assert "shown only once" in result.stderr
    result = run_cli(platform, tokens_cli, ["list", "--json"])
    listed = json.loads(result.stdout)
    assert {t["name"] for t in listed} == {"deploy", "ci"}
    assert raw not in result.stdout
    assert all("token" not in t for t in listed)
    result = run_cli(platform, tokens_cli, ["list"])
    assert f"plat_{created['prefix']}…" in result.stdout
    assert raw not in result.stdout
    result = run_cli(platform, tokens_cli, ["revoke", created["id"]])
    assert result.exit_code == 0, result.output
    assert "revoked token 'deploy'" in result.stdout
    result = run_cli(platform, tokens_cli, ["revoke", created["id"]])
    assert result.exit_code == 1
    assert "error[conflict]" in result.stderr
    result = run_cli(platform, tokens_cli, ["list", "--all", "--json"])
    assert {t["name"] for t in json.loads(result.stdout)} == {"deploy", "ci"}
    people.user("bob")
    result = run_cli(platform, tokens_cli, ["list", "--user", "admin"], as_user="bob")
    assert result.exit_code == 1
    assert "error[not_found]" in result.stderr
    result = run_cli(platform, tokens_cli, ["create", "x", "--expires-in", "soon"])
    assert result.exit_code == 2
    assert_audit_clean(platform, raw)
