"""A run's directory on local disk: the checkout, a home, a temp dir, the step scripts.

Layout, under the runtime's root::

    {root}/{run_id}/
        workspace/      the checkout of the commit; every step's working directory
        home/           $HOME of the steps (tools write caches and config here, not in ~)
        tmp/            $TMPDIR of the steps
        scripts/        the generated bash script of each step attempt
        .prepared       written last by a successful checkout; holds the commit sha

The checkout is ``git init`` + ``git fetch --depth=1 <bare repo> <sha>`` + ``git checkout
--detach <sha>``: one commit's objects are copied (no history, no tags), it works for a
sha that is no branch tip (protocol v2 lets a local upload-pack serve any reachable object),
and the workspace shares no files with the platform's bare repository, so a ``git gc`` there
cannot break a running step and a step cannot write into it through alternates. git runs
through :func:`platform_sdk.git.repos.run_git`: clean environment, no user or system config,
no prompts, a timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_sdk.errors import BadRequest, Unavailable
from platform_sdk.git.repos import GIT_TIMEOUT, run_git

__all__ = ["RunDirs", "checkout", "remove_tree", "write_script"]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_STDERR_LIMIT = 1000


@dataclass(frozen=True)
class RunDirs:
    run: Path

    @property
    def workspace(self) -> Path:
        return self.run / "workspace"

    @property
    def home(self) -> Path:
        return self.run / "home"

    @property
    def tmp(self) -> Path:
        return self.run / "tmp"

    @property
    def scripts(self) -> Path:
        return self.run / "scripts"

    @property
    def marker(self) -> Path:
        return self.run / ".prepared"

    def is_prepared(self, sha: str) -> bool:
        try:
            return self.marker.read_text().strip() == sha
        except OSError:
            return False


def _trim(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines()]
    text = "; ".join(ln for ln in lines if ln)
    return text if len(text) <= _STDERR_LIMIT else text[: _STDERR_LIMIT - 1] + "…"


def _git(args: Sequence[str], cwd: Path, timeout: float, what: str) -> None:
    proc = run_git(args, cwd=cwd, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise BadRequest(
            f"{what}: git {args[0]} failed: {_trim(proc.stderr) or f'exit code {proc.returncode}'}",
            details={"returncode": proc.returncode},
        )


def checkout(repo_path: Path, sha: str, dirs: RunDirs, *, timeout: float = GIT_TIMEOUT) -> None:
    """Make ``dirs`` with a fresh checkout of ``sha`` from the bare repository ``repo_path``.

    Raises :class:`BadRequest` (bad sha, missing repository, a git error with its stderr) or
    :class:`Unavailable` (git missing, or a git command over ``timeout`` seconds). On error
    nothing is left behind.
    """
    what = f"cannot check out {sha[:12] or '(empty sha)'}"
    if not _SHA.fullmatch(sha):
        raise BadRequest(f"{what}: {sha!r} is not a full lowercase hex commit id")
    if not (repo_path / "HEAD").is_file():
        raise BadRequest(f"{what}: no git repository at {repo_path}")
    try:
        for d in (dirs.workspace, dirs.home, dirs.tmp, dirs.scripts):
            d.mkdir(parents=True, exist_ok=True)
        ws = dirs.workspace
        _git(["init", "--quiet", "--template=", str(ws)], ws, timeout, what)
        fetch = ["fetch", "--quiet", "--depth=1", "--no-tags", "--no-write-fetch-head"]
        _git([*fetch, str(repo_path.resolve()), sha], ws, timeout, what)
        _git(["checkout", "--quiet", "--detach", sha], ws, timeout, what)
        dirs.marker.write_text(sha + "\n")
    except OSError as exc:
        remove_tree(dirs.run)
        raise Unavailable(f"{what}: cannot write the workspace: {exc}") from None
    except (BadRequest, Unavailable):
        remove_tree(dirs.run)
        raise


def _make_writable_and_retry(func: Callable[..., Any], path: str, _exc: object) -> None:
    """rmtree's error hook: a read-only file or directory (git packs, a step's ``chmod -w``)."""
    for p in {os.path.dirname(path), path}:
        try:
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
        except OSError:
            pass
    with contextlib.suppress(FileNotFoundError):
        func(path)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything below it, read-only entries included; missing is fine."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=_make_writable_and_retry)


def write_script(path: Path, step_name: str, commands: Sequence[str]) -> Path:
    """The bash script of one step: each command echoed as ``+ command`` and then run.

    bash runs it with ``-e -o pipefail``, so the first failing command ends the step with its
    exit code; the commands share one shell, so ``cd`` and ``export`` carry over.
    """
    lines = [f"# step {step_name!r}, generated by the platform's local runtime"]
    for command in commands:
        lines.append(f"printf '+ %s\\n' {shlex.quote(command)}")
        lines.append(command)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
