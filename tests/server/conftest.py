"""A client of the ASGI app over this test's platform."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), raise_server_exceptions=False) as c:
        yield c
