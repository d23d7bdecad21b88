"""A platform served over HTTP for telemetry tests, on a local folder or S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from platform_sdk.config import Settings, load_settings
from platform_sdk.core.access import Actor
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.git.conftest import serve
from tests.plugins.platforms import People


@dataclass
class Live:
    platform: Platform
    people: People
    base: str
    dev: Actor
    token: str


def live_platform(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path, backend: str
) -> Iterator[Live]:
    if backend == "s3":
        s3: Settings = request.getfixturevalue("s3_settings")
        settings = load_settings(
            data_dir=tmp_path / "data",
            database_url=db_url,
            minio_endpoint=s3.minio_endpoint,
            minio_access_key=s3.minio_access_key,
            minio_secret_key=s3.minio_secret_key,
            bucket=s3.bucket,
            pipeline_max_parallel=0,
        )
    else:
        settings = load_settings(
            data_dir=tmp_path / "data", database_url=db_url, pipeline_max_parallel=0
        )
    platform = Platform(settings)
    platform.initialise()
    people = People(platform)
    dev = people.user("dev", roles=("developer",))
    people.project(dev, "app")
    gen = serve(create_app(platform))  # type: ignore[arg-type]
    port = next(gen)
    try:
        yield Live(platform, people, f"http://127.0.0.1:{port}", dev, people.token(dev))
    finally:
        next(gen, None)
        platform.close()
