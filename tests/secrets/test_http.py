"""The secrets API as a client sees it: write-only values, metadata, statuses."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_sdk.core.access import Actor
from platform_sdk.sdk import Platform
from platform_sdk.secrets import service as svc
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People
from tests.secrets.conftest import Calls, Team

VALUE = "ghp_http_value_never_echoed_0123456789"


class Recorder:
    """A client that keeps every response body, to check none of them holds a value."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.bodies: list[str] = []

    def __call__(self, method: str, url: str, **kw: Any) -> Any:
        r = self.client.request(method, url, **kw)
        self.bodies.append(r.text + json.dumps(dict(r.headers)))
        return r


@pytest.fixture
def api(platform: Platform) -> Iterator[Recorder]:
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Recorder(client)


@pytest.fixture
def tokens(people: People, team: Team, admin: Actor) -> dict[str, str]:
    return {
        name: people.token(actor)
        for name, actor in (
            ("admin", admin),
            ("dev", team.dev),
            ("ops", team.ops),
            ("viewer", team.viewer),
        )
    }


def test_put_get_list_delete(
    api: Recorder,
    people: People,
    tokens: dict[str, str],
    calls: Calls,
    team: Team,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dev = people.auth(tokens["dev"])
    r = api(
        "PUT",
        "/api/secrets/DB_PASSWORD",
        params={"project": "alice/app"},
        json={"value": VALUE, "scope": "deploy"},
        headers=dev,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "id",
        "name",
        "project",
        "scope",
        "version",
        "versions",
        "created_by",
        "created_at",
    }
    assert (body["name"], body["project"], body["scope"], body["version"]) == (
        "DB_PASSWORD",
        "alice/app",
        "deploy",
        1,
    )
    r = api(
        "PUT",
        "/api/secrets/DB_PASSWORD",
        params={"project": str(team.app_id)},
        json={"value": VALUE + "2"},
        headers=dev,
    )
    assert (r.json()["version"], r.json()["versions"], r.json()["scope"]) == (2, 2, "all")
    r = api("GET", "/api/secrets/DB_PASSWORD", params={"project": "alice/app"}, headers=dev)
    assert (r.status_code, r.json()["version"]) == (200, 2)
    r = api("GET", "/api/secrets", params={"project": "alice/app", "per_page": 1}, headers=dev)
    assert r.status_code == 200
    assert (r.json()["total"], [i["name"] for i in r.json()["items"]]) == (1, ["DB_PASSWORD"])
    # the value only leaves through resolve (in-process), never over HTTP
    assert calls(svc.resolve, team.ops, name="DB_PASSWORD", project=team.app, scope="deploy") == (
        VALUE + "2"
    )
    r = api("DELETE", "/api/secrets/DB_PASSWORD", params={"project": "alice/app"}, headers=dev)
    assert (r.status_code, r.content) == (204, b"")
    r = api("GET", "/api/secrets/DB_PASSWORD", params={"project": "alice/app"}, headers=dev)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "secret DB_PASSWORD is not set for project alice/app"
    assert not any(VALUE in b for b in api.bodies)
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert VALUE not in logged
    assert tokens["dev"] not in logged


def test_global_secrets_need_global_permissions(
    api: Recorder, people: People, tokens: dict[str, str]
) -> None:
    admin = people.auth(tokens["admin"])
    assert (
        api("PUT", "/api/secrets/SHARED", json={"value": VALUE}, headers=admin).status_code == 200
    )
    listing = api("GET", "/api/secrets", headers=admin).json()
    assert [(i["name"], i["project"]) for i in listing["items"]] == [("SHARED", None)]
    ops = people.auth(tokens["ops"])
    r = api("PUT", "/api/secrets/SHARED", json={"value": VALUE}, headers=ops)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    assert api("GET", "/api/secrets", headers=ops).status_code == 403
    assert api("DELETE", "/api/secrets/SHARED", headers=ops).status_code == 403
    assert not any(VALUE in b for b in api.bodies)


def test_statuses(api: Recorder, people: People, tokens: dict[str, str], team: Team) -> None:
    q = {"project": "alice/app"}
    r = api("GET", "/api/secrets", params=q)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthenticated")
    r = api("PUT", "/api/secrets/X", params=q, json={"value": VALUE})
    assert r.status_code == 401
    viewer = people.auth(tokens["viewer"])
    assert api("GET", "/api/secrets", params=q, headers=viewer).status_code == 403
    r = api("PUT", "/api/secrets/X", params=q, json={"value": VALUE}, headers=viewer)
    assert r.status_code == 403
    ops = people.auth(tokens["ops"])
    for method, url in (
        ("GET", "/api/secrets"),
        ("GET", "/api/secrets/X"),
        ("DELETE", "/api/secrets/X"),
        ("PUT", "/api/secrets/X"),
    ):
        r = api(method, url, params={"project": "bob/other"}, json={"value": VALUE}, headers=ops)
        assert r.status_code == 404, (method, url)
        assert r.json()["error"]["message"] == "project bob/other not found"
    r = api("GET", "/api/secrets/NOT_THERE", params=q, headers=ops)
    assert r.status_code == 404
    assert not any(VALUE in b for b in api.bodies)


@pytest.mark.parametrize(
    ("name", "body", "where"),
    [
        ("lower_case", {"value": "v"}, "path.name"),
        ("1ABC", {"value": "v"}, "path.name"),
        ("A" * 129, {"value": "v"}, "path.name"),
        ("OK", {"value": ""}, "body.value"),
        ("OK", {"value": "v" * (64 * 1024 + 1)}, "body.value"),
        ("OK", {"value": "v", "scope": "everywhere"}, "body.scope"),
        ("OK", {"value": "v", "extra": "field"}, "body.extra"),
        ("OK", {}, "body.value"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    api: Recorder,
    people: People,
    tokens: dict[str, str],
    name: str,
    body: dict[str, str],
    where: str,
) -> None:
    r = api("PUT", f"/api/secrets/{name}", json=body, headers=people.auth(tokens["admin"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith(f"{where}:")
    if len(body.get("value", "")) > 100:
        assert body["value"] not in r.text  # a refused value is not echoed either


def test_value_is_write_only_in_the_openapi_document(api: Recorder) -> None:
    doc = api.client.get("/openapi.json").json()
    secret_set = doc["components"]["schemas"]["SecretSet"]["properties"]["value"]
    assert secret_set["writeOnly"] is True
    assert "value" not in doc["components"]["schemas"]["SecretOut"]["properties"]
    paths = {p for p in doc["paths"] if p.startswith("/api/secrets")}
    assert paths == {"/api/secrets", "/api/secrets/{name}"}
