"""Rate limits: OTLP requests per token and manual pipeline runs per user and project answer
429 with Retry-After past their limit, without touching other tokens, users or projects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from platform_sdk.config import ConfigError, load_settings
from platform_sdk.core.ratelimit import Rate
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.observe.samples import logs_request
from tests.pipelines.helpers import make_project
from tests.plugins.platforms import People

PB = {"Content-Type": "application/x-protobuf"}
PIPELINE = "pipeline:\n  steps:\n    - {name: a, commands: [x]}\n"


@pytest.fixture
def limited(db_url: str, tmp_path: Path) -> Iterator[Platform]:
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        rate_otlp="3/h",
        rate_pipeline_triggers="2/h",
        pipeline_max_parallel=0,  # runs stay queued: this is about accepting them
    )
    plat = Platform(settings)
    plat.initialise()
    yield plat
    plat.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_otlp_is_limited_per_token(limited: Platform) -> None:
    people = People(limited)
    dev = people.user("dev", roles=("developer",))
    people.project(dev, "app")
    one, two = people.token(dev), people.token(dev)
    body = logs_request(1, resource={"platform.project": "dev/app"}).SerializeToString()
    with TestClient(create_app(limited)) as client:
        codes = [
            client.post("/v1/logs", content=body, headers={**PB, **People.auth(one)}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        refused = client.post("/v1/logs", content=body, headers={**PB, **People.auth(one)})
        assert refused.headers["Retry-After"] == "3600"
        assert "PLATFORM_RATE_OTLP" in refused.text
        other = client.post("/v1/logs", content=body, headers={**PB, **People.auth(two)})
        assert other.status_code == 200  # another token has its own budget


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_manual_runs_are_limited_per_user_and_project(limited: Platform) -> None:
    people = People(limited)
    dev = people.user("dev", roles=("developer",))
    other = people.user("other", roles=("developer",))
    for name in ("app", "lib"):
        make_project(
            people,
            dev,
            name,
            {".platform.yaml": "pipeline:\n  steps:\n    - {name: a, commands: [x]}\n"},
        )
    auth_dev, auth_other = People.auth(people.token(dev)), People.auth(people.token(other))
    with TestClient(create_app(limited)) as client:

        def trigger(project: str, auth: dict[str, str]) -> int:
            url = f"/api/projects/dev/{project}/pipelines"
            return client.post(url, json={}, headers=auth).status_code

        assert [trigger("app", auth_dev) for _ in range(3)] == [201, 201, 429]
        rerun = client.post("/api/projects/dev/app/pipelines/1/rerun", headers=auth_dev)
        assert rerun.status_code == 429  # a re-run is a manual run too
        assert rerun.headers["Retry-After"] == "3600"
        assert trigger("lib", auth_dev) == 201  # another project
        assert trigger("app", auth_other) == 201  # another user


def test_rates_parse_and_bad_ones_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Rate.parse("600/min") == Rate(600, 60.0)
    assert str(Rate.parse(" 50 / s ")) == "50/s"
    assert Rate.parse("off").limit == 0
    monkeypatch.setenv("PLATFORM_RATE_OTLP", "lots")
    with pytest.raises(ConfigError, match=r"PLATFORM_RATE_OTLP: .*not N/s, N/min or N/h"):
        load_settings()
