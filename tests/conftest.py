"""Test configuration: service fixtures, and CI's rule that PostgreSQL tests never skip."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.plugins.databases", "tests.plugins.s3", "tests.plugins.redis"]

REQUIRED_MARKERS = ("postgres", "redis", "s3")
_skipped_required: list[str] = []


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's settings or .env: each starts from the defaults."""
    for name in list(os.environ):
        if name.startswith(("PLATFORM_", "MINIO_")) and name != "PLATFORM_REQUIRE_SERVICES":
            monkeypatch.delenv(name)
    for name in ("DATABASE_URL", "VALKEY_URL", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.skipped and any(item.get_closest_marker(m) for m in REQUIRED_MARKERS):
        _skipped_required.append(item.nodeid)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1" and _skipped_required:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1" and _skipped_required:
        terminalreporter.section("required services", sep="=", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(_skipped_required)} test(s) needing PostgreSQL/Redis/S3 were skipped, "
            "which CI does not allow:"
        )
        for nodeid in _skipped_required[:20]:
            terminalreporter.write_line(f"  {nodeid}")
