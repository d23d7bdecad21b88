"""The CI rule itself: a skipped PostgreSQL test fails the run when services are required."""

from __future__ import annotations

import pytest

INNER = """
import pytest

@pytest.mark.postgres
def test_needs_postgres():
    pytest.skip("PostgreSQL is down")

def test_plain():
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nmarkers =\n  postgres: x\n  redis: x\n  s3: x\n")
    pytester.makepyfile(test_inner=INNER)
    return pytester


def test_a_skipped_postgres_test_fails_a_required_run(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM_REQUIRE_SERVICES", "1")
    result = inner.runpytest_subprocess("-p", "tests.plugins.required")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*needing PostgreSQL/Redis/S3 were skipped*", "*test_needs_postgres*"]
    )


def test_the_same_skip_is_fine_on_a_developer_machine(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLATFORM_REQUIRE_SERVICES", raising=False)
    result = inner.runpytest_subprocess("-p", "tests.plugins.required")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1)
