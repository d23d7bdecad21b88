"""The server skeleton as a client sees it: health, readiness, errors, limits, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from platform_sdk.config import load_settings
from platform_sdk.errors import Conflict, SchemaOutdated
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app


def test_healthz_answers(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.headers["x-request-id"]


def test_readyz_reports_each_component(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert set(body["components"]) == {"database", "object_store", "bus", "sandbox"}
    assert body["components"]["database"]["detail"].startswith("schema at 0")
    sandbox = body["components"]["sandbox"]  # how the local runtime isolates pipeline steps
    assert (sandbox["ok"], sandbox["backend"]) == (True, "bubblewrap")
    assert sandbox["detail"].startswith("bubblewrap 0.")


def test_unknown_route_is_a_json_not_found(client: TestClient) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_platform_errors_become_json_with_status_and_code(platform: Platform) -> None:
    app = create_app(platform)

    @app.get("/boom")
    def boom() -> None:
        raise Conflict("it clashed", details={"with": "x"})

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
        assert r.status_code == 409
        assert r.json() == {
            "error": {"code": "conflict", "message": "it clashed", "details": {"with": "x"}}
        }
        r = c.get("/crash")
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal"
        assert "secret internals" not in r.text


def test_request_validation_is_a_422_naming_the_field(platform: Platform) -> None:
    app = create_app(platform)

    @app.get("/items/{n}")
    def item(n: int) -> dict[str, int]:
        return {"n": n}

    with TestClient(app) as c:
        r = c.get("/items/seven")
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["code"] == "validation_failed"
        assert err["message"].startswith("path.n:")


def _echo_app(tmp_path: Path, db_url: str, limit: int) -> Iterator[TestClient]:
    plat = Platform(
        load_settings(data_dir=tmp_path / "d", database_url=db_url, max_request_bytes=limit)
    )
    app = create_app(plat)
    received: list[int] = []

    @app.post("/echo")
    async def echo(request: __import__("fastapi").Request) -> dict[str, int]:
        body = await request.body()
        received.append(len(body))
        return {"size": len(body)}

    with TestClient(app) as c:
        c.received = received  # type: ignore[attr-defined]
        yield c
    plat.close()


@pytest.fixture
def small_limit(tmp_path: Path, db_url: str) -> Iterator[TestClient]:
    yield from _echo_app(tmp_path, db_url, 1024)


def test_body_under_the_limit_passes(small_limit: TestClient) -> None:
    assert small_limit.post("/echo", content=b"x" * 1024).json() == {"size": 1024}


def test_body_over_the_limit_by_content_length_is_413(small_limit: TestClient) -> None:
    r = small_limit.post("/echo", content=b"x" * 1025)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert small_limit.received == []  # type: ignore[attr-defined]


def test_chunked_body_over_the_limit_is_413(small_limit: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 300

    r = small_limit.post("/echo", content=chunks())
    assert r.status_code == 413
    assert r.json()["error"]["details"] == {"limit": 1024}
    assert small_limit.received == []  # type: ignore[attr-defined]


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Platform"
    assert {"/healthz", "/readyz"} <= set(spec["paths"])


def test_readyz_is_503_naming_the_database_when_postgres_is_down(
    tmp_path: Path, closed_port: int
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/nothing"
    plat = Platform(load_settings(data_dir=tmp_path, database_url=url))
    with TestClient(create_app(plat)) as c:  # starts: an unreachable database is not fatal
        r = c.get("/readyz")
        assert c.get("/healthz").status_code == 200
    plat.close()
    assert r.status_code == 503
    body = r.json()
    assert body["failing"] == ["database"]
    assert "OperationalError" in body["components"]["database"]["detail"]


@pytest.mark.s3
def test_readyz_is_503_naming_the_object_store_when_s3_is_down(
    tmp_path: Path, db_url: str, closed_port: int
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database_url=db_url,
        minio_endpoint=f"http://127.0.0.1:{closed_port}",
        minio_access_key="k",
        minio_secret_key="s",
    )
    plat = Platform(settings)
    with TestClient(create_app(plat)) as c:
        r = c.get("/readyz")
    plat.close()
    assert r.status_code == 503
    assert r.json()["failing"] == ["object_store"]


@pytest.mark.s3
def test_readyz_is_200_with_s3_up(tmp_path: Path, db_url: str, s3_server: str) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database_url=db_url,
        minio_endpoint=s3_server,
        minio_access_key="k",
        minio_secret_key="s",
    )
    with Platform(settings) as plat, TestClient(create_app(plat)) as c:
        r = c.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["components"]["object_store"]["backend"] == "s3"


@pytest.mark.redis
def test_readyz_reports_the_valkey_bus(
    tmp_path: Path, db_url: str, valkey_url: str, valkey_prefix: str
) -> None:
    settings = load_settings(
        data_dir=tmp_path, database_url=db_url, valkey_url=valkey_url, valkey_prefix=valkey_prefix
    )
    with Platform(settings) as plat, TestClient(create_app(plat)) as c:
        r = c.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["components"]["bus"]["backend"] == "valkey"


def test_start_up_refuses_an_outdated_schema(tmp_path: Path, empty_db_url: str) -> None:
    plat = Platform(load_settings(data_dir=tmp_path, database_url=empty_db_url))
    with pytest.raises(SchemaOutdated, match="platform init"), TestClient(create_app(plat)):
        pass
    plat.close()


def test_nul_characters_are_refused_before_any_service(
    client: TestClient, platform: Platform
) -> None:
    """PostgreSQL text cannot hold NUL; both stores must answer the same clear 400."""
    from tests.plugins.platforms import People

    h = People.auth(People(platform).token(platform.actor))
    r = client.post("/api/auth/login", json={"username": "ad\u0000min", "password": "x"})
    assert r.status_code == 400
    assert "NUL" in r.json()["error"]["message"]
    assert client.get("/api/users", params={"q": "a\x00b"}, headers=h).status_code == 400
    assert client.get("/api/users/ad%00min", headers=h).status_code == 400
    # an escaped backslash followed by u0000 is ordinary text, not a NUL
    r = client.post(
        "/api/projects", json={"name": "ok", "description": "\\u0000 literally"}, headers=h
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "\\u0000 literally"
