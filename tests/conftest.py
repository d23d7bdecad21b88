"""Test configuration: service fixtures, CI's no-skip rule, and isolation from the caller."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "pytester",
    "tests.plugins.databases",
    "tests.plugins.s3",
    "tests.plugins.redis",
    "tests.plugins.required",
    "tests.plugins.platforms",
]


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with minimal cost: tests create many users; production parameters are
    pinned and exercised in a fresh interpreter by tests/identity/test_passwords.py."""
    from argon2 import PasswordHasher

    from platform_sdk.identity import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's settings or .env: each starts from the defaults."""
    for name in list(os.environ):
        if name.startswith(("PLATFORM_", "MINIO_")) and name not in (
            "PLATFORM_REQUIRE_SERVICES",
            "PLATFORM_TEST_PG_URL",
            "PLATFORM_TEST_VALKEY_URL",
        ):
            monkeypatch.delenv(name)
    for name in ("DATABASE_URL", "VALKEY_URL", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
