"""No response, log line or audit row ever holds a secret; the database holds only ciphertext.

One end-to-end scenario over HTTP (every router, as ``platform serve`` mounts them) and the SDK:
log in with a password (and fail once), mint an API token and use it, set, update, list, read
and delete global and project secrets (and send an invalid one), create users with passwords,
change passwords, resolve and expand secrets in-process, log out and revoke the token. Every
value a client sent or received as a credential or a secret is then looked for in

- every HTTP response body and header — except the two places a credential is *meant* to
  travel: the ``POST /api/tokens`` body may carry its own new token and a login's
  ``Set-Cookie`` its own new session, and nothing else;
- every log record emitted at DEBUG by any logger (the access log included), and stdout/stderr;
- every column of every table, read with plain SQL (audit ``details`` included), and for
  SQLite the database file itself.

The hashed columns are also checked to be what they claim: SHA-256 of the raw credential, an
argon2 hash of the password, an AEAD ciphertext that is not the value.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from platform_sdk.core.access import Actor
from platform_sdk.models import metadata
from platform_sdk.sdk import Platform
from platform_sdk.secrets.sdk import SecretManager
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People

LOGGERS = (
    "",
    "platform",
    "platform.access",
    "platform_sdk",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "fastapi",
    "httpx",
    "sqlalchemy.engine",
)


def _fresh(kind: str) -> str:
    return f"{kind}-{secrets.token_urlsafe(18)}"


@dataclass
class Seen:
    """One HTTP exchange as the client received it, and what it may legitimately carry."""

    label: str
    status: int
    body: str
    headers: list[tuple[str, str]]
    body_may_hold: set[str] = field(default_factory=set)
    cookie_may_hold: set[str] = field(default_factory=set)


class Http:
    """A client of the app that keeps every response it receives."""

    def __init__(self, client: TestClient, log: list[Seen], name: str) -> None:
        self.client = client
        self.log = log
        self.name = name

    def __call__(self, method: str, url: str, **kw: Any) -> tuple[Any, Seen]:
        r = self.client.request(method, url, **kw)
        seen = Seen(
            label=f"{self.name} {method} {url} -> {r.status_code}",
            status=r.status_code,
            body=r.text,
            headers=[(k.lower(), v) for k, v in r.headers.multi_items()],
        )
        self.log.append(seen)
        return r, seen


@pytest.fixture
def clients(platform: Platform) -> Iterator[tuple[list[Seen], dict[str, Http]]]:
    log: list[Seen] = []
    app = create_app(platform)
    with ExitStack() as stack:
        made = {
            name: Http(
                stack.enter_context(TestClient(app, raise_server_exceptions=False)), log, name
            )
            for name in ("api", "alice_web", "carol_web")
        }
        yield log, made


def _session_cookie(seen: Seen) -> str:
    (cookie,) = [v for k, v in seen.headers if k == "set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == "platform_session"
    raw = rest.split(";")[0]
    assert raw.startswith("plats_")
    return raw


def _forms(value: str) -> list[bytes]:
    """The ways a value could sit in bytes: UTF-8, hex and base64 of it."""
    raw = value.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def _leaks(haystack: str | bytes, needles: dict[str, str]) -> list[str]:
    data = haystack if isinstance(haystack, bytes) else haystack.encode("utf-8", "replace")
    lowered = data.lower()
    return [
        label
        for label, value in needles.items()
        if any(form in data or form.lower() in lowered for form in _forms(value))
    ]


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.name, record.getMessage(), repr(record.args), repr(vars(record))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def _cell(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str).encode()
    return str(value).encode()


def test_no_secret_or_credential_leaks_into_responses_logs_audit_or_the_database(
    platform: Platform,
    people: People,
    admin: Actor,
    clients: tuple[list[Seen], dict[str, Http]],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    responses, http = clients
    api, alice_web, carol_web = http["api"], http["alice_web"], http["carol_web"]
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    capfd.readouterr()  # only what the scenario prints counts

    # Everything sensitive the scenario uses, by label (labels are what a failure names).
    s: dict[str, str] = {
        "alice password": People.PASSWORD,
        "wrong login password": _fresh("wrong-login-pw"),
        "carol password 1": _fresh("carol-pw1"),
        "carol password 2": _fresh("carol-pw2"),
        "carol wrong current password": _fresh("carol-wrong-pw"),
        "dave password 1": _fresh("dave-pw1"),
        "dave password 2": _fresh("dave-pw2"),
        "agent password (refused)": _fresh("agent-pw"),
        "global secret v1": _fresh("global-v1"),
        "global secret v2": _fresh("global-v2"),
        "project secret": _fresh("postgres://app:pw@db/app?sslmode=require&k"),
        "deleted project secret": _fresh("deleted-secret"),
        "invalid secret (refused)": _fresh("refused-secret"),
        "admin token": people.token(admin),
    }
    alice = people.user("alice", roles=("developer",))
    s["alice fixture token"] = people.token(alice)
    admin_auth = People.auth(s["admin token"])

    # -- passwords to sessions: one failure, then a login (the cookie holds the session) --------
    r, _ = alice_web(
        "POST", "/api/auth/login", json={"username": "alice", "password": s["wrong login password"]}
    )
    assert r.status_code == 401, r.text
    r, seen = alice_web(
        "POST", "/api/auth/login", json={"username": "alice", "password": People.PASSWORD}
    )
    assert r.status_code == 200, r.text
    s["alice session"] = _session_cookie(seen)
    seen.cookie_may_hold.add(s["alice session"])
    assert alice_web("GET", "/api/auth/me")[0].json()["user"]["username"] == "alice"

    # -- a project, and an API token created over HTTP, then used ----------------------------
    r, _ = alice_web("POST", "/api/projects", json={"name": "shop"})
    assert r.status_code == 201, r.text
    r, seen = alice_web(
        "POST",
        "/api/tokens",
        json={"name": "ci", "scopes": ["project:read", "secret:read", "secret:write"]},
    )
    assert r.status_code == 201, r.text
    s["alice api token"] = r.json()["token"]
    seen.body_may_hold.add(s["alice api token"])
    token_id = r.json()["id"]
    alice_auth = People.auth(s["alice api token"])
    assert api("GET", "/api/auth/me", headers=alice_auth)[0].json()["via_token"] == token_id
    assert api("GET", "/api/tokens", headers=alice_auth)[0].status_code == 200
    assert api("GET", f"/api/tokens/{token_id}", headers=alice_auth)[0].status_code == 200
    assert api("GET", "/api/auth/me", headers=People.auth(s["alice fixture token"]))[0].is_success

    # -- secrets: global (admin) and project (alice's token); list, get, delete -------------
    shop = {"project": "alice/shop"}
    for value in (s["global secret v1"], s["global secret v2"]):
        r, _ = api("PUT", "/api/secrets/GLOBAL_KEY", json={"value": value}, headers=admin_auth)
        assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    r, _ = api(
        "PUT",
        "/api/secrets/DATABASE_URL",
        params=shop,
        json={"value": s["project secret"], "scope": "deploy"},
        headers=alice_auth,
    )
    assert r.status_code == 200, r.text
    r, _ = api(
        "PUT",
        "/api/secrets/OLD_KEY",
        params=shop,
        json={"value": s["deleted project secret"]},
        headers=alice_auth,
    )
    assert r.status_code == 200, r.text
    r, _ = api(
        "PUT",
        "/api/secrets/BAD_SCOPE",
        params=shop,
        json={"value": s["invalid secret (refused)"], "scope": "everywhere"},
        headers=alice_auth,
    )
    assert r.status_code == 422, r.text
    assert api("GET", "/api/secrets", headers=admin_auth)[0].json()["total"] == 1
    listed = api("GET", "/api/secrets", params=shop, headers=alice_auth)[0].json()
    assert [i["name"] for i in listed["items"]] == ["DATABASE_URL", "OLD_KEY"]
    assert api("GET", "/api/secrets/GLOBAL_KEY", headers=admin_auth)[0].status_code == 200
    r, _ = api("GET", "/api/secrets/DATABASE_URL", params=shop, headers=alice_auth)
    assert r.status_code == 200, r.text
    r, _ = api("DELETE", "/api/secrets/OLD_KEY", params=shop, headers=alice_auth)
    assert r.status_code == 204, r.text
    r, _ = api("GET", "/api/secrets/OLD_KEY", params=shop, headers=alice_auth)
    assert r.status_code == 404, r.text

    # -- users with passwords; password changes (own and by an admin) ------------------------
    for name in ("carol", "dave"):
        r, _ = api(
            "POST",
            "/api/users",
            json={
                "username": name,
                "email": f"{name}@example.com",
                "password": s[f"{name} password 1"],
            },
            headers=admin_auth,
        )
        assert r.status_code == 201, r.text
    r, _ = alice_web(
        "POST",
        "/api/users",
        json={"username": "bot", "kind": "agent", "password": s["agent password (refused)"]},
    )
    assert r.status_code == 422, r.text
    r, _ = alice_web("POST", "/api/users", json={"username": "bot", "kind": "agent"})
    assert r.status_code == 201, r.text

    r, seen = carol_web(
        "POST", "/api/auth/login", json={"username": "carol", "password": s["carol password 1"]}
    )
    assert r.status_code == 200, r.text
    s["carol session 1"] = _session_cookie(seen)
    seen.cookie_may_hold.add(s["carol session 1"])
    r, _ = carol_web(
        "PATCH",
        "/api/users/carol",
        json={
            "password": s["carol password 2"],
            "current_password": s["carol wrong current password"],
        },
    )
    assert r.status_code == 403, r.text
    assert r.json()["error"]["message"] == "current_password does not match"
    r, _ = carol_web(
        "PATCH",
        "/api/users/carol",
        json={"password": s["carol password 2"], "current_password": s["carol password 1"]},
    )
    assert r.status_code == 200, r.text
    assert carol_web("GET", "/api/auth/me")[0].status_code == 401  # the change ended the session
    r, seen = carol_web(
        "POST", "/api/auth/login", json={"username": "carol", "password": s["carol password 2"]}
    )
    assert r.status_code == 200, r.text
    s["carol session 2"] = _session_cookie(seen)
    seen.cookie_may_hold.add(s["carol session 2"])
    r, _ = api(
        "PATCH", "/api/users/dave", json={"password": s["dave password 2"]}, headers=admin_auth
    )
    assert r.status_code == 200, r.text

    # -- the SDK: resolve and expand, in-process ---------------------------------------------
    assert platform.secrets.resolve("GLOBAL_KEY") == s["global secret v2"]
    in_shop = SecretManager(platform, project="alice/shop")
    assert in_shop.resolve("DATABASE_URL", scope="deploy") == s["project secret"]
    expanded = in_shop.expand(
        "connect ${{ secrets.DATABASE_URL }} with ${{ secrets.GLOBAL_KEY }}", scope="deploy"
    )
    assert expanded == f"connect {s['project secret']} with {s['global secret v2']}"
    assert [x.name for x in in_shop.list()] == ["DATABASE_URL"]

    # -- log out, revoke the token; both stop working -----------------------------------------
    r, _ = carol_web("POST", "/api/auth/logout")
    assert r.status_code == 204, r.text
    assert carol_web("GET", "/api/auth/me")[0].status_code == 401
    r, _ = alice_web("DELETE", f"/api/tokens/{token_id}")
    assert r.status_code == 204, r.text
    assert api("GET", "/api/auth/me", headers=alice_auth)[0].status_code == 401

    # The admin reads the audit log over HTTP too: that body is checked like every other.
    r, _ = api("GET", "/api/audit", params={"per_page": 200}, headers=admin_auth)
    assert r.status_code == 200, r.text
    actions = {row["action"] for row in r.json()["items"]}
    assert {"auth.login_failed", "secret.resolve", "token.revoke", "auth.logout"} <= actions

    records = list(caplog.records)
    printed = capfd.readouterr()

    # -- nothing sensitive in any response, but where it is meant to travel --------------------
    assert len(responses) >= 30
    for seen in responses:
        body_needles = {k: v for k, v in s.items() if v not in seen.body_may_hold}
        assert not _leaks(seen.body, body_needles), f"{seen.label} body: {_leaks(seen.body, s)}"
        for name, value in seen.headers:
            allowed = seen.cookie_may_hold if name == "set-cookie" else set()
            needles = {k: v for k, v in s.items() if v not in allowed}
            assert not _leaks(value, needles), f"{seen.label} header {name}"
    # ...and those two places hold what they should, so the exemptions are not vacuous
    assert sum(bool(x.body_may_hold) for x in responses) == 1
    assert sum(bool(x.cookie_may_hold) for x in responses) == 3

    # -- nothing in any log record (the access log was captured) or on stdout/stderr ----------
    by_logger = {rec.name for rec in records}
    assert "platform.access" in by_logger, by_logger
    access = [rec for rec in records if rec.name == "platform.access"]
    assert len(access) == len(responses)
    for rec in records:
        found = _leaks(_record_text(rec), s)
        assert not found, f"log record {rec.name} {rec.levelname} {rec.getMessage()!r}: {found}"
    assert not _leaks(printed.out + printed.err, s), _leaks(printed.out + printed.err, s)

    # -- the database, read with plain SQL: audit details and every other column ---------------
    with platform.engine.connect() as conn:
        details = conn.execute(text("SELECT action, details FROM audit_log")).all()
        assert len(details) >= 20
        for action, detail in details:
            found = _leaks(_cell(detail), s)
            assert not found, f"audit {action} details: {found}"

        ciphertexts = conn.execute(text("SELECT name, version, ciphertext FROM secrets")).all()
        assert len(ciphertexts) == 4  # GLOBAL_KEY v1, v2; DATABASE_URL; OLD_KEY (deleted)
        for name, version, ciphertext in ciphertexts:
            blob = _cell(ciphertext)
            assert len(blob) > 16, (name, version)
            found = _leaks(blob, s) + _leaks(blob.decode("latin-1"), s)
            assert not found, f"secret {name} v{version} ciphertext holds {found}"

        token_hashes = set(conn.execute(text("SELECT token_hash FROM api_tokens")).scalars())
        session_hashes = set(conn.execute(text("SELECT token_hash FROM auth_sessions")).scalars())
        for label in ("admin token", "alice fixture token", "alice api token"):
            assert hashlib.sha256(s[label].encode()).hexdigest() in token_hashes, label
        for label in ("alice session", "carol session 1", "carol session 2"):
            assert hashlib.sha256(s[label].encode()).hexdigest() in session_hashes, label
        for stored in token_hashes | session_hashes:
            assert not _leaks(stored, s), stored

        users = conn.execute(text("SELECT username, password_hash FROM users")).all()
        password_hashes = {row[0]: row[1] for row in users}
        assert password_hashes["bot"] is None
        for username in ("alice", "carol", "dave"):
            assert password_hashes[username].startswith("$argon2"), username
        for username, stored in password_hashes.items():
            assert not _leaks(_cell(stored), s), f"users.password_hash of {username}"

        # Every column of every table, so a new column cannot start holding plaintext unnoticed.
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()).all():
                for column, value in zip(table.columns.keys(), row, strict=True):
                    found = _leaks(_cell(value), s)
                    assert not found, f"{table.name}.{column} holds {found}"

    url = make_url(platform.engine.url)
    if url.get_backend_name() == "sqlite" and url.database:
        platform.engine.dispose()
        files = list(Path(url.database).parent.glob(Path(url.database).name + "*"))
        assert files
        for path in files:
            found = _leaks(path.read_bytes(), s)
            assert not found, f"the SQLite file {path.name} holds {found}"
