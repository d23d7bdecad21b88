"""Users and agents as an admin, a user, an agent owner and an outsider see them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from platform_sdk.core.access import Actor
from platform_sdk.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from platform_sdk.identity.cli.users import users as users_cli
from platform_sdk.identity.models import User
from platform_sdk.identity.models import UserKind as Kind
from platform_sdk.identity.sdk.users import UserManager
from platform_sdk.sdk import Platform
from tests.identity.userkit import PASSWORD, api, assert_audit_clean, audit_rows, run_cli
from tests.plugins.platforms import People

NEW_PASSWORD = "a much better passphrase"


def _login(client: object, username: str, password: str) -> int:
    return client.post(  # type: ignore[attr-defined,no-any-return]
        "/api/auth/login", json={"username": username, "password": password}
    ).status_code


def test_admin_creates_a_user_who_can_log_in(platform: Platform, people: People) -> None:
    root = people.user("root", roles=("admin",))
    with api(platform) as c:
        r = c.post(
            "/api/users",
            json={"username": "alice", "email": "a@x.io", "password": PASSWORD},
            headers=people.auth(people.token(root)),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["username"] == "alice"
        assert body["kind"] == "human"
        assert body["is_active"] is True
        assert body["owner"] is None
        assert "password" not in r.text
        assert _login(c, "alice", PASSWORD) == 200
    (row,) = audit_rows(platform, "user.create")
    assert row.actor_name == "root"
    assert row.details["username"] == "alice"
    assert_audit_clean(platform, PASSWORD)


def test_admin_creates_an_agent_it_owns(platform: Platform, people: People) -> None:
    root = people.user("root", roles=("admin",))
    with api(platform) as c:
        r = c.post(
            "/api/users",
            json={"username": "ci-bot", "kind": "agent"},
            headers=people.auth(people.token(root)),
        )
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "agent"
        assert r.json()["owner"] == "root"
        r = c.post(
            "/api/users",
            json={"username": "pw-bot", "kind": "agent", "password": PASSWORD},
            headers=people.auth(people.token(root)),
        )
        assert r.status_code == 422
        assert r.json()["error"]["message"].startswith("password:")


def test_duplicate_username_is_already_exists(platform: Platform, people: People) -> None:
    root = people.auth(people.token(people.user("root", roles=("admin",))))
    people.user("alice")
    with api(platform) as c:
        r = c.post("/api/users", json={"username": "alice"}, headers=root)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "already_exists"
        assert "alice" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "Not Valid!"}, "body.username"),
        ({"username": "carol", "password": "short"}, "body.password"),
        ({"username": "carol", "email": "nope"}, "body.email"),
        ({"username": "carol", "is_admin": True}, "body.is_admin"),
    ],
)
def test_invalid_user_bodies_are_422_naming_the_field(
    platform: Platform, people: People, body: dict[str, object], field: str
) -> None:
    root = people.auth(people.token(people.user("root", roles=("admin",))))
    with api(platform) as c:
        r = c.post("/api/users", json=body, headers=root)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    assert r.json()["error"]["message"].startswith(f"{field}:")


def test_list_filters_and_pages(platform: Platform, people: People) -> None:
    root = people.user("root", roles=("admin",))
    for name in ("amy", "ben", "cat"):
        people.user(name)
    people.user("old", active=False)
    people.user("zz-bot", kind=Kind.AGENT, password=None)
    with platform.session() as db:
        db.scalars(select(User).where(User.username == "ben")).one().display_name = "Big Ben"
    headers = people.auth(people.token(root))
    with api(platform) as c:

        def names(**params: object) -> list[str]:
            r = c.get("/api/users", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return [u["username"] for u in r.json()["items"]]

        assert names(kind="agent") == ["zz-bot"]
        assert names(active="false") == ["old"]
        assert names(q="big") == ["ben"]
        assert "admin" in names(kind="human", active="true")
        first = c.get("/api/users", params={"per_page": 2}, headers=headers).json()
        assert first["total"] == 7
        assert first["next_page"] == 2
        assert [u["username"] for u in first["items"]] == ["admin", "amy"]
        last = c.get("/api/users", params={"per_page": 2, "page": 4}, headers=headers).json()
        assert last["next_page"] is None
        assert [u["username"] for u in last["items"]] == ["zz-bot"]
        assert c.get("/api/users", params={"kind": "robot"}, headers=headers).status_code == 422


def test_users_update_themselves_and_need_the_current_password(
    platform: Platform, people: People
) -> None:
    bob = people.auth(people.token(people.user("bob")))
    with api(platform) as c:
        r = c.patch("/api/users/bob", json={"display_name": "Bob B."}, headers=bob)
        assert r.status_code == 200, r.text
        assert r.json()["display_name"] == "Bob B."
        r = c.patch("/api/users/bob", json={"password": NEW_PASSWORD}, headers=bob)
        assert r.status_code == 422
        assert r.json()["error"]["message"].startswith("current_password:")
        wrong = {"password": NEW_PASSWORD, "current_password": "not it at all"}
        assert c.patch("/api/users/bob", json=wrong, headers=bob).status_code == 403
        right = {"password": NEW_PASSWORD, "current_password": PASSWORD}
        assert c.patch("/api/users/bob", json=right, headers=bob).status_code == 200
        assert _login(c, "bob", PASSWORD) == 401
        assert _login(c, "bob", NEW_PASSWORD) == 200
    assert [r.details["changed"] for r in audit_rows(platform, "user.update")] == [
        ["display_name"],
        ["password"],
    ]
    assert_audit_clean(platform, PASSWORD, NEW_PASSWORD)


def test_admin_resets_a_password_without_the_current_one(
    platform: Platform, people: People
) -> None:
    root = people.auth(people.token(people.user("root", roles=("admin",))))
    people.user("bob")
    with api(platform) as c:
        assert _login(c, "bob", PASSWORD) == 200
        assert c.get("/api/auth/me").status_code == 200  # the login cookie
        r = c.patch("/api/users/bob", json={"password": NEW_PASSWORD}, headers=root)
        assert r.status_code == 200, r.text
        assert c.get("/api/auth/me").status_code == 401  # the reset ended bob's sessions
        assert _login(c, "bob", NEW_PASSWORD) == 200


def test_non_admins_see_only_themselves_and_cannot_create_users(
    platform: Platform, people: People
) -> None:
    people.user("alice")
    bob = people.auth(people.token(people.user("bob")))
    with api(platform) as c:
        assert c.get("/api/users/alice", headers=bob).status_code == 404
        assert c.get("/api/users/nobody", headers=bob).json() == {
            "error": {"code": "not_found", "message": "user nobody not found"}
        }
        assert c.patch("/api/users/alice", json={}, headers=bob).status_code == 404
        assert c.post("/api/users/alice/deactivate", headers=bob).status_code == 404
        listed = c.get("/api/users", headers=bob).json()
        assert [u["username"] for u in listed["items"]] == ["bob"]
        r = c.post("/api/users", json={"username": "carol"}, headers=bob)
        assert r.status_code == 403
        assert c.post("/api/users/bob/deactivate", headers=bob).status_code == 403
        assert c.get("/api/users").status_code == 401


def test_agent_run_holders_create_and_manage_their_agents(
    platform: Platform, people: People
) -> None:
    dev = people.auth(people.token(people.user("dev", roles=("developer",))))
    other = people.auth(people.token(people.user("other", roles=("developer",))))
    with api(platform) as c:
        r = c.post("/api/users", json={"username": "dev-bot", "kind": "agent"}, headers=dev)
        assert r.status_code == 201, r.text
        assert r.json()["owner"] == "dev"
        assert c.post("/api/users", json={"username": "human2"}, headers=dev).status_code == 403
        listed = c.get("/api/users", headers=dev).json()["items"]
        assert [u["username"] for u in listed] == ["dev", "dev-bot"]
        assert c.get("/api/users/dev-bot", headers=other).status_code == 404
        r = c.patch("/api/users/dev-bot", json={"display_name": "Dev's bot"}, headers=dev)
        assert r.status_code == 200
        r = c.post("/api/users/dev-bot/deactivate", headers=dev)
        assert r.json()["is_active"] is False
        assert c.post("/api/users/dev-bot/activate", headers=dev).json()["is_active"] is True
    rows = audit_rows(platform, "user.create")
    assert [(r.actor_name, r.details["owner"]) for r in rows] == [("dev", "dev")]


def test_viewers_cannot_create_agents(platform: Platform, people: People) -> None:
    viewer = people.auth(people.token(people.user("vic", roles=("viewer",))))
    with api(platform) as c:
        r = c.post("/api/users", json={"username": "vic-bot", "kind": "agent"}, headers=viewer)
    assert r.status_code == 403
    assert r.json()["error"]["details"] == {"permission": "agent:run"}


def test_deactivation_revokes_sessions_and_tokens_at_once(
    platform: Platform, people: People
) -> None:
    root = people.auth(people.token(people.user("root", roles=("admin",))))
    bob_token = people.auth(people.token(people.user("bob")))
    with api(platform) as c:
        assert _login(c, "bob", PASSWORD) == 200
        assert c.get("/api/auth/me").status_code == 200
        assert c.get("/api/auth/me", headers=bob_token).status_code == 200
        r = c.post("/api/users/bob/deactivate", headers=root)
        assert r.status_code == 200, r.text
        assert r.json()["is_active"] is False
        assert c.get("/api/auth/me").status_code == 401
        assert c.get("/api/auth/me", headers=bob_token).status_code == 401
        assert _login(c, "bob", PASSWORD) == 401
        # Reactivation does not bring the old credentials back.
        assert c.post("/api/users/bob/activate", headers=root).json()["is_active"] is True
        assert c.get("/api/auth/me", headers=bob_token).status_code == 401
        assert _login(c, "bob", PASSWORD) == 200
    (row,) = audit_rows(platform, "user.deactivate")
    assert row.details == {"username": "bob", "sessions_revoked": 1, "tokens_revoked": 1}
    assert len(audit_rows(platform, "user.activate")) == 1


def test_the_last_active_admin_cannot_be_deactivated(
    platform: Platform, people: People, admin: Actor
) -> None:
    headers = people.auth(people.token(admin))
    with api(platform) as c:
        r = c.post(f"/api/users/{admin.username}/deactivate", headers=headers)
        assert r.status_code == 409
        assert "last active admin" in r.json()["error"]["message"]
        people.user("second", roles=("admin",))
        r = c.post(f"/api/users/{admin.username}/deactivate", headers=headers)
        assert r.status_code == 200, r.text


def test_sdk_manages_users_and_a_non_admin_platform_is_refused(
    platform: Platform, people: People
) -> None:
    manager = UserManager(platform)
    alice = manager.create("alice", email="alice@example.test", password=PASSWORD)
    assert repr(alice) == "<User alice (human)>"
    bot = manager.create("alice-helper", kind="agent")
    assert bot.owner == "admin"
    assert {u.username for u in manager.list()} == {"admin", "alice", "alice-helper"}
    assert [u.username for u in manager.list(kind="agent")] == ["alice-helper"]
    alice.update(display_name="Alice")
    assert manager.get("alice").display_name == "Alice"
    assert alice.deactivate().is_active is False
    assert "inactive" in repr(alice)
    with pytest.raises(ValidationFailed, match="username"):
        manager.create("Bad Name")
    people.user("bob")
    with Platform(platform.settings, user="bob") as as_bob:
        bobs = UserManager(as_bob)
        with pytest.raises(PermissionDenied):
            bobs.create("mallory")
        with pytest.raises(NotFound):
            bobs.get("alice")
        assert [u.username for u in bobs.list()] == ["bob"]
        with pytest.raises(Conflict):
            UserManager(platform).get("admin").deactivate()


def test_cli_creates_lists_and_deactivates_users(platform: Platform, people: People) -> None:
    result = run_cli(platform, users_cli, ["create", "carol", "--email", "c@x.io", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["username"] == "carol"
    generated = record["password"]
    with api(platform) as c:
        assert _login(c, "carol", generated) == 200
    result = run_cli(platform, users_cli, ["create", "dave"])
    assert result.exit_code == 0, result.output
    assert "password" in result.stdout
    assert "shown only once" in result.stderr
    result = run_cli(platform, users_cli, ["create", "erin", "--password-stdin"], input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    result = run_cli(platform, users_cli, ["create", "erin-bot", "--agent", "--json"])
    assert json.loads(result.stdout)["owner"] == "admin"
    result = run_cli(platform, users_cli, ["list", "--json"])
    assert [u["username"] for u in json.loads(result.stdout)] == [
        "admin",
        "carol",
        "dave",
        "erin",
        "erin-bot",
    ]
    result = run_cli(platform, users_cli, ["list", "--kind", "agent"])
    assert result.exit_code == 0
    assert "erin-bot" in result.stdout
    assert "carol" not in result.stdout
    result = run_cli(platform, users_cli, ["deactivate", "carol", "--json"])
    assert json.loads(result.stdout)["is_active"] is False
    result = run_cli(platform, users_cli, ["show", "carol"])
    assert "False" in result.stdout
    result = run_cli(platform, users_cli, ["activate", "carol", "--json"])
    assert json.loads(result.stdout)["is_active"] is True
    result = run_cli(platform, users_cli, ["create", "frank"], as_user="carol")
    assert result.exit_code == 1
    assert "error[permission_denied]" in result.stderr
    result = run_cli(platform, users_cli, ["show", "admin"], as_user="carol")
    assert "error[not_found]" in result.stderr
    assert_audit_clean(platform, generated, PASSWORD)
