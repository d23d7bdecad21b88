"""The local Redis server (wire-compatible with Valkey) for tests of the Valkey bus.

``valkey_url`` checks that the server answers PING. When it does not, the test is skipped, or
fails when ``PLATFORM_REQUIRE_SERVICES=1`` (CI), with the command that starts it. Every test
gets its own key prefix (``valkey_prefix``), and its keys are removed afterwards, so tests never
collide even when several sessions share the server. Tests that use these fixtures carry
``@pytest.mark.redis``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

VALKEY_URL = os.environ.get("PLATFORM_TEST_VALKEY_URL", "redis://127.0.0.1:6379/0")
START_REDIS = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379"


@pytest.fixture
def valkey_url() -> str:
    """The URL of the local server, once it has answered PING."""
    client = redis.Redis.from_url(VALKEY_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        message = f"Redis/Valkey at {VALKEY_URL} is not reachable ({exc}); start it with: "
        if os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1":
            pytest.fail(message + START_REDIS)
        pytest.skip(message + START_REDIS)
    finally:
        client.close()
    return VALKEY_URL


@pytest.fixture
def valkey_prefix(valkey_url: str) -> Iterator[str]:
    """A key and channel prefix no other test uses; its keys are deleted after the test."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(valkey_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
