"""CI's rule: nothing skips. A test that cannot run in CI fails the run instead.

With ``PLATFORM_REQUIRE_SERVICES=1`` (set by ``hack/test.sh``) a run in which any test was
skipped fails, and the summary lists those tests with their reasons: a missing PostgreSQL,
Redis, S3 server, Chromium, git-lfs or tool is something the test command installs or starts,
so a skip in CI means the environment is broken, never that the test is optional. On a
developer machine the same skips stay skips.

The rule reads reports in ``pytest_runtest_logreport``, which runs in the controlling process
under pytest-xdist too (workers send their reports there), so parallel runs are held to it.
"""

from __future__ import annotations

import os

import pytest


def _required() -> bool:
    return os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1"


class NoSkips:
    """Collects every skipped test of the run; fails the run when CI requires it."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        self.skipped.append(f"{report.nodeid}: {reason.removeprefix('Skipped: ')}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if _required() and self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not (_required() and self.skipped):
            return
        terminalreporter.section("skipped tests", sep="=", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(self.skipped)} test(s) were skipped, which CI does not allow "
            "(PLATFORM_REQUIRE_SERVICES=1): install or start what they need"
        )
        for line in self.skipped[:30]:
            terminalreporter.write_line(f"  {line}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(NoSkips(), "platform-no-skips")
