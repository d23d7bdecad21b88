"""The CI rule itself: any skipped test fails the run when services are required, in a plain
run and under pytest-xdist, and the summary says which test skipped and why."""

from __future__ import annotations

import pytest

INNER = """
import pytest

@pytest.mark.postgres
def test_needs_postgres():
    pytest.skip("PostgreSQL is down")

def test_needs_chromium():
    pytest.skip("chromium is not installed")

@pytest.mark.skipif(True, reason="git-lfs not installed")
def test_needs_lfs():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    raise AssertionError

def test_plain():
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nmarkers =\n  postgres: x\n  redis: x\n  s3: x\n")
    pytester.makepyfile(test_inner=INNER)
    return pytester


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_every_skip_fails_a_required_run(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("PLATFORM_REQUIRE_SERVICES", "1")
    result = inner.runpytest_subprocess("-p", "tests.plugins.required", *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*3 test(s) were skipped, which CI does not allow*"])
    out = result.stdout.str()
    assert "test_needs_postgres: PostgreSQL is down" in out
    assert "test_needs_chromium: chromium is not installed" in out
    assert "test_needs_lfs: git-lfs not installed" in out
    assert "test_expected_failure" not in out.split("skipped tests")[-1]


def test_the_same_skips_are_fine_on_a_developer_machine(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLATFORM_REQUIRE_SERVICES", raising=False)
    result = inner.runpytest_subprocess("-p", "tests.plugins.required")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)


def test_a_run_without_skips_passes_a_required_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM_REQUIRE_SERVICES", "1")
    pytester.makepyfile(test_inner="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "tests.plugins.required")
    assert result.ret == pytest.ExitCode.OK
    assert "skipped tests" not in result.stdout.str()
