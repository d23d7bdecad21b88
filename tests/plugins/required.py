"""CI's rule: tests that need PostgreSQL, Redis or S3 must run, never skip.

With ``PLATFORM_REQUIRE_SERVICES=1`` (set by ``hack/test.sh``) a run in which any test marked
``postgres``, ``redis`` or ``s3`` was skipped fails, and the summary lists those tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

REQUIRED_MARKERS = ("postgres", "redis", "s3")
_STASH = pytest.StashKey[list[str]]()


def _required() -> bool:
    return os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STASH] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.skipped and any(item.get_closest_marker(m) for m in REQUIRED_MARKERS):
        item.config.stash[_STASH].append(item.nodeid)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _required() and session.config.stash[_STASH]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    skipped = config.stash[_STASH]
    if _required() and skipped:
        terminalreporter.section("required services", sep="=", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} test(s) needing PostgreSQL/Redis/S3 were skipped, "
            "which CI does not allow:"
        )
        for nodeid in skipped[:20]:
            terminalreporter.write_line(f"  {nodeid}")
