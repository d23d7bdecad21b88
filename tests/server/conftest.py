"""An initialised embedded platform and a client of its ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from platform_sdk.config import load_settings
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app


@pytest.fixture
def platform(db_url: str, tmp_path: Path) -> Iterator[Platform]:
    plat = Platform(load_settings(data_dir=tmp_path / "data", database_url=db_url))
    plat.initialise()
    yield plat
    plat.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), raise_server_exceptions=False) as c:
        yield c
