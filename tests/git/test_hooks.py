"""The pre-receive and post-receive hooks called in-process, against a real repository.

tests/git/test_protection.py pushes through the real hook scripts; these call the same
functions directly, so every branch of the protection rule is pinned (and `just mutate
platform_sdk/git/hooks.py` can see them: a hook run by git is a separate interpreter).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from platform_sdk.git import hooks

ZERO = "0" * 40


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """(base, child, sibling): child descends from base, sibling does not descend from child."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    _git(repo, *ident, "commit", "-q", "--allow-empty", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    _git(repo, *ident, "commit", "-q", "--allow-empty", "-m", "child")
    child = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "-b", "side", base)
    _git(repo, *ident, "commit", "-q", "--allow-empty", "-m", "sibling")
    sibling = _git(repo, "rev-parse", "HEAD")
    monkeypatch.chdir(repo)  # the hook runs inside the repository, as git runs it
    return base, child, sibling


def test_is_zero() -> None:
    assert hooks.is_zero(ZERO)
    assert not hooks.is_zero("0" * 39 + "1")
    assert not hooks.is_zero("")


def test_refusals_cover_delete_force_push_and_leave_the_rest(
    history: tuple[str, str, str],
) -> None:
    base, child, sibling = history
    protected = ["main", "release/*"]
    assert hooks.refusals([(child, ZERO, "refs/heads/main")], protected) == [
        "refusing to delete protected branch main"
    ]
    assert hooks.refusals([(child, sibling, "refs/heads/release/1.0")], protected) == [
        "refusing to force-push protected branch release/1.0"
    ]
    fine = [
        (base, child, "refs/heads/main"),  # fast-forward
        (ZERO, sibling, "refs/heads/main"),  # creation
        (child, sibling, "refs/heads/topic"),  # not protected
        (child, ZERO, "refs/tags/main"),  # not a branch
        (child, sibling, "refs/heads/Main"),  # patterns are case-sensitive
    ]
    assert hooks.refusals(fine, protected) == []
    both = [(child, ZERO, "refs/heads/main"), (child, sibling, "refs/heads/release/2")]
    assert len(hooks.refusals(both, protected)) == 2


def _run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return hooks.main(argv)


def test_pre_receive_refuses_the_whole_push_and_says_why(
    history: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, child, sibling = history
    monkeypatch.setenv(hooks.PROTECTED_ENV, '["main"]')
    lines = f"{base} {child} refs/heads/topic\n{child} {sibling} refs/heads/main\n"
    assert _run(monkeypatch, ["pre-receive"], lines) == 1
    assert capsys.readouterr().err == "refusing to force-push protected branch main\n"
    assert _run(monkeypatch, ["pre-receive"], f"{base} {child} refs/heads/main\ngarbage\n") == 0
    monkeypatch.delenv(hooks.PROTECTED_ENV)
    assert _run(monkeypatch, ["pre-receive"], f"{child} {ZERO} refs/heads/main\n") == 0


def test_unreadable_protection_settings_refuse_the_push(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(hooks.PROTECTED_ENV, "[main")
    assert _run(monkeypatch, ["pre-receive"], "") == 1
    assert (
        capsys.readouterr().err
        == "platform: unreadable branch protection settings; refusing push\n"
    )


def test_post_receive_appends_the_accepted_updates(
    history: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base, child, _ = history
    report = tmp_path / "report"
    report.write_text("earlier\n")
    monkeypatch.setenv(hooks.REPORT_ENV, str(report))
    assert _run(monkeypatch, ["post-receive"], f"{base} {child} refs/heads/main\nbad\n") == 0
    assert report.read_text() == f"earlier\n{base} {child} refs/heads/main\n"
    monkeypatch.delenv(hooks.REPORT_ENV)
    assert _run(monkeypatch, ["post-receive"], f"{base} {child} refs/heads/main\n") == 0


@pytest.mark.parametrize("argv", [[], ["update"], ["pre-receive", "x"]])
def test_a_wrong_invocation_is_a_usage_error(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(monkeypatch, argv, "") == 2
    assert capsys.readouterr().err == "usage: hooks.py pre-receive|post-receive\n"
