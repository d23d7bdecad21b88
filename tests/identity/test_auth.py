"""Logging in and out, the session cookie, session lifetimes, rate limits and ``me``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from platform_sdk.core.types import utcnow
from platform_sdk.identity import passwords
from platform_sdk.identity.models import AuthSession, User
from platform_sdk.sdk import Platform
from tests.identity.userkit import PASSWORD, api, assert_audit_clean, audit_rows
from tests.plugins.platforms import People

LOGIN = "/api/auth/login"


def _creds(username: str = "bob", password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


def test_login_sets_a_strict_http_only_cookie_that_authenticates(
    platform: Platform, people: People
) -> None:
    people.user("bob", roles=("viewer",))
    with api(platform) as c:
        r = c.post(LOGIN, json=_creds(), headers={"User-Agent": "pytest-browser"})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("platform_session=plats_")
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert "httponly" in attrs
        assert "samesite=strict" in attrs
        assert "secure" not in attrs
        assert f"max-age={platform.settings.session_ttl}" in attrs
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["user"]["username"] == "bob"
        assert "password" not in r.text
        me = c.get("/api/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["user"]["username"] == "bob"
        assert me.json()["via_token"] is None
        assert me.json()["permissions"] == ["deploy:read", "observe:read", "project:read"]
    (row,) = audit_rows(platform, "auth.login")
    assert row.actor_name == "bob"
    assert_audit_clean(platform, PASSWORD, cookie.split(";")[0].partition("=")[2])


def test_the_cookie_is_secure_over_https(platform: Platform, people: People) -> None:
    people.user("bob")
    with api(platform, base_url="https://testserver") as c:
        r = c.post(LOGIN, json=_creds())
        assert r.status_code == 200
        assert "secure" in {a.strip().lower() for a in r.headers["set-cookie"].split(";")}
        assert c.get("/api/auth/me").status_code == 200


def test_logout_ends_the_session_and_clears_the_cookie(platform: Platform, people: People) -> None:
    people.user("bob")
    with api(platform) as c:
        c.post(LOGIN, json=_creds())
        raw = c.cookies["platform_session"]
        r = c.post("/api/auth/logout")
        assert r.status_code == 204
        assert r.headers["set-cookie"].startswith('platform_session=""')
        assert "max-age=0" in r.headers["set-cookie"].lower()
        r = c.get("/api/auth/me", headers={"Authorization": f"Bearer {raw}"})
        assert r.status_code == 401
        assert c.post("/api/auth/logout").status_code == 401
    (row,) = audit_rows(platform, "auth.logout")
    assert row.actor_name == "bob"


def test_logout_with_an_api_token_is_a_bad_request(platform: Platform, people: People) -> None:
    token = people.token(people.user("bob"))
    with api(platform) as c:
        r = c.post("/api/auth/logout", headers=people.auth(token))
        assert r.status_code == 400
        assert "DELETE /api/tokens" in r.json()["error"]["message"]
        assert c.get("/api/auth/me", headers=people.auth(token)).status_code == 200


def test_unknown_user_and_wrong_password_answer_the_same(
    platform: Platform, people: People
) -> None:
    people.user("bob")
    people.user("gone", active=False)
    with api(platform) as c:
        wrong = c.post(LOGIN, json=_creds(password="wrong password"))
        unknown = c.post(LOGIN, json=_creds(username="nobody"))
        inactive = c.post(LOGIN, json=_creds(username="gone"))
    assert wrong.status_code == unknown.status_code == inactive.status_code == 401
    assert wrong.json() == unknown.json() == inactive.json()
    assert wrong.headers.get("set-cookie") is None
    failures = audit_rows(platform, "auth.login_failed")
    assert [r.details["username"] for r in failures] == ["bob", "nobody", "gone"]
    assert_audit_clean(platform, "wrong password", PASSWORD)


def test_the_eleventh_failure_is_rate_limited_even_with_the_right_password(
    platform: Platform, people: People
) -> None:
    people.user("bob")
    people.user("carol")
    with api(platform) as c:
        for _ in range(10):
            assert c.post(LOGIN, json=_creds(password="guess guess")).status_code == 401
        r = c.post(LOGIN, json=_creds())
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["error"]["code"] == "rate_limited"
        # The limit is per account: another account from the same address still logs in.
        assert c.post(LOGIN, json=_creds(username="carol")).status_code == 200


def _age_sessions(platform: Platform, *, idle: timedelta | None, expire: bool) -> None:
    with platform.session() as db:
        for session in db.scalars(select(AuthSession)):
            if idle is not None:
                session.last_seen_at = utcnow() - idle
            if expire:
                session.expires_at = utcnow() - timedelta(seconds=1)


@pytest.mark.parametrize("how", ["idle", "expired"])
def test_sessions_end_when_idle_or_expired(platform: Platform, people: People, how: str) -> None:
    people.user("bob")
    with api(platform) as c:
        c.post(LOGIN, json=_creds())
        assert c.get("/api/auth/me").status_code == 200
        idle = timedelta(seconds=platform.settings.session_idle + 1)
        _age_sessions(platform, idle=idle if how == "idle" else None, expire=how == "expired")
        r = c.get("/api/auth/me")
        assert r.status_code == 401
        assert "log in again" in r.json()["error"]["message"]


def test_activity_within_the_idle_window_keeps_a_session(
    platform: Platform, people: People
) -> None:
    people.user("bob")
    with api(platform) as c:
        c.post(LOGIN, json=_creds())
        _age_sessions(
            platform, idle=timedelta(seconds=platform.settings.session_idle - 60), expire=False
        )
        assert c.get("/api/auth/me").status_code == 200
        with platform.session() as db:
            seen = db.scalars(select(AuthSession.last_seen_at)).one()
        assert utcnow() - seen < timedelta(seconds=60)  # the request refreshed it


def test_login_rehashes_a_password_when_the_parameters_change(
    platform: Platform, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    people.user("bob")

    def stored() -> str:
        with platform.session() as db:
            value = db.scalars(select(User.password_hash).where(User.username == "bob")).one()
        assert value is not None
        return value

    before = stored()
    cheaper = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheaper)
    assert passwords.needs_rehash(before)
    with api(platform) as c:
        assert c.post(LOGIN, json=_creds()).status_code == 200
    after = stored()
    assert after != before
    assert "m=8192,t=1,p=1" in after
    assert not passwords.needs_rehash(after)
    assert passwords.verify_password(after, PASSWORD)
    with api(platform) as c:
        assert c.post(LOGIN, json=_creds()).status_code == 200
    assert stored() == after  # current parameters: no second rehash


def test_me_needs_credentials_and_reports_token_narrowing(
    platform: Platform, people: People
) -> None:
    root = people.user("root", roles=("admin",))
    pid = people.project(root, "app")
    with api(platform) as c:
        r = c.get("/api/auth/me")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        full = c.get("/api/auth/me", headers=people.auth(people.token(root))).json()
        assert full["scopes"] is None
        assert full["permissions"] == sorted(full["permissions"])
        assert "admin:users" in full["permissions"]
        scoped = people.token(root, scopes=["project:read", "deploy:read"])
        body = c.get("/api/auth/me", headers=people.auth(scoped)).json()
        assert body["scopes"] == ["deploy:read", "project:read"]
        assert body["permissions"] == ["deploy:read", "project:read"]
        assert body["via_token"] is not None
        bounded = people.token(root, project_id=pid, scopes=["project:write"])
        body = c.get("/api/auth/me", headers=people.auth(bounded)).json()
        assert body["project_boundary"] == str(pid)
        assert body["permissions"] == ["project:write"]
        assert c.get("/api/auth/me", headers=people.auth("plat_forged")).status_code == 401


def test_openapi_documents_the_identity_routes(platform: Platform) -> None:
    with api(platform) as c:
        spec = c.get("/openapi.json").json()
    paths = spec["paths"]

    def schema(path: str, method: str, status: str) -> str:
        content = paths[path][method]["responses"][status]["content"]
        return str(content["application/json"]["schema"])

    assert "SessionOut" in schema("/api/auth/login", "post", "200")
    assert "MeOut" in schema("/api/auth/me", "get", "200")
    assert "204" in paths["/api/auth/logout"]["post"]["responses"]
    assert "UserOut" in schema("/api/users", "post", "201")
    assert "Page_UserOut_" in schema("/api/users", "get", "200")
    assert "UserOut" in schema("/api/users/{username}/deactivate", "post", "200")
    assert "ApiTokenCreated" in schema("/api/tokens", "post", "201")
    assert "204" in paths["/api/tokens/{token_id}"]["delete"]["responses"]
