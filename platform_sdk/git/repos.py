"""Bare repositories on disk and the one way the platform runs ``git``.

Every project has a bare repository at ``{data_dir}/repos/{owner}/{name}.git``. All git work —
smart HTTP, the repository browser, server-side merges — runs the real ``git`` binary through
:func:`run_git`, with a timeout, a clean environment (no user config, no terminal prompts) and
errors mapped onto the platform's error tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from platform_sdk.config import Settings
from platform_sdk.errors import PlatformError, Unavailable

__all__ = ["GIT_TIMEOUT", "GitFailed", "git_env", "init_bare", "repo_path", "repos_root", "run_git"]

GIT_TIMEOUT = 120.0
"""Seconds any single git command may run before it is killed."""


class GitFailed(PlatformError):
    """A git command exited non-zero; ``stderr`` says why."""

    code = "git_failed"

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(
            f"git {' '.join(args[:2])} failed ({returncode}): {stderr.strip()[:500]}",
            details={"returncode": returncode},
        )
        self.returncode = returncode
        self.stderr = stderr


def repos_root(settings: Settings) -> Path:
    return settings.data_dir / "repos"


def repo_path(settings: Settings, owner: str, name: str) -> Path:
    """Where the bare repository of ``owner/name`` lives (names are validated upstream)."""
    return repos_root(settings) / owner / f"{name}.git"


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for git that ignores the host user's config and never prompts."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Platform",
        "GIT_AUTHOR_EMAIL": "platform@localhost",
        "GIT_COMMITTER_NAME": "Platform",
        "GIT_COMMITTER_EMAIL": "platform@localhost",
    }
    env.update(extra or {})
    return env


def run_git(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    cwd: Path | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git args…`` (against ``git_dir`` if given) and return the finished process."""
    binary = shutil.which("git")
    if binary is None:
        raise Unavailable("git is not installed on this server")
    cmd = [binary]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            input=input,
            env=git_env(env),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Unavailable(
            f"git {args[0]} took longer than {timeout:.0f} s", retry_after=5
        ) from None
    if check and proc.returncode != 0:
        raise GitFailed(list(args), proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc


def init_bare(path: Path, default_branch: str = "main") -> None:
    """Create an empty bare repository whose HEAD names ``default_branch``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_git(["init", "--bare", "--quiet", f"--initial-branch={default_branch}", str(path)])
    run_git(["config", "http.receivepack", "true"], git_dir=path)
    run_git(["config", "uploadpack.allowFilter", "true"], git_dir=path)
    run_git(["config", "receive.denyNonFastForwards", "false"], git_dir=path)
