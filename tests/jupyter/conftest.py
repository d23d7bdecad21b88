"""pytest-jupyter's server fixtures (``jp_fetch`` …) for these tests, and a seeded platform.

The plugin has no entry point and only the root conftest may list ``pytest_plugins``, so its
fixtures and hooks are imported here: they apply to this folder only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from traitlets.config import Config

from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.git.conftest import serve
from tests.jupyter.seed import Seeded, seed
from tests.plugins.platforms import People


@pytest.fixture
def seeded(platform: Platform, people: People) -> Seeded:
    return seed(platform, people)


@pytest.fixture
def acting_user() -> str:
    """Whom the Jupyter server's platform acts as (parametrize to change)."""
    return "alice"


@pytest.fixture
def platform_mode() -> str:
    """``embedded`` (the data dir) or ``remote`` (the REST API; parametrize to change)."""
    return "embedded"


@pytest.fixture
def platform_server(seeded: Seeded) -> Iterator[str]:
    """The seeded platform's REST API on a free port."""
    gen = serve(create_app(seeded.platform))  # type: ignore[arg-type]
    port = next(gen)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        next(gen, None)


@pytest.fixture
def jp_server_config(
    seeded: Seeded,
    people: People,
    acting_user: str,
    platform_mode: str,
    request: pytest.FixtureRequest,
) -> Config:
    if platform_mode == "remote":
        actor = {"alice": seeded.alice, "bob": seeded.bob}[acting_user]
        traits = {"url": request.getfixturevalue("platform_server"), "token": people.token(actor)}
    else:
        traits = seeded.config(acting_user)
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"platform_sdk.jupyter": True}},
            "PlatformConfig": traits,
        }
    )
