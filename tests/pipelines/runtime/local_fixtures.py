"""Helpers of the local runtime tests: a real bare repository made with the git CLI (two
commits; runs check out the OLDER one by sha, which is no branch tip), a runtime with a short
kill grace (sandboxed by default, as in production), a thread-safe log a test can wait on, and
a look at the host's processes by a marker in their command line (a pid a sandboxed step sees
is its PID namespace's, not the host's). Each test module declares its fixtures over these
(three lines each), so no conftest is shared with other runtimes' tests.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_sdk.core.sandbox import SandboxMode
from platform_sdk.git.repos import git_env
from platform_sdk.pipelines.runtime.base import RunSpec, StepIO, StepResult, StepSpec
from platform_sdk.pipelines.runtime.local import LocalRuntime

DEADLINE = 30.0


@dataclass(frozen=True)
class Repo:
    bare: Path
    old: str
    new: str


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=git_env(), capture_output=True, check=True)
    return proc.stdout.decode().strip()


def make_repo(base: Path) -> Repo:
    """A bare repository at ``base/app.git`` with two commits on ``main``."""
    work, bare = base / "work", base / "app.git"
    work.mkdir()
    git(work, "init", "-q", "--initial-branch=main")
    (work / "README.md").write_text("one\n")
    (work / "src").mkdir()
    (work / "src" / "app.py").write_text("print('hi')\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "first")
    old = git(work, "rev-parse", "HEAD")
    (work / "README.md").write_text("two\n")
    (work / "new.txt").write_text("new\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "second")
    new = git(work, "rev-parse", "HEAD")
    git(base, "init", "-q", "--bare", str(bare))
    git(work, "push", "-q", str(bare), "main")
    return Repo(bare, old, new)


def make_runtime(tmp_path: Path, sandbox: SandboxMode = "bubblewrap") -> LocalRuntime:
    return LocalRuntime(tmp_path / "runs", kill_grace=0.5, sandbox=sandbox)


def run_of(repo: Repo) -> RunSpec:
    """A new run of the OLDER commit."""
    return RunSpec(uuid.uuid4(), 1, "alice/app", repo.bare, repo.old, "refs/heads/main")


class Log:
    """A thread-safe StepIO whose lines a test can wait for."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.io = StepIO(log=self._log)

    def _log(self, line: str) -> None:
        with self._cond:
            self.lines.append(line)
            self._cond.notify_all()

    def wait_for(self, text: str) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(text in ln for ln in self.lines), DEADLINE)
        assert ok, f"{text!r} never logged; got {self.lines}"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def step(*commands: str, **kw: Any) -> StepSpec:
    return StepSpec(uuid.uuid4(), kw.pop("name", "test"), commands, **kw)


def execute(rt: LocalRuntime, run: RunSpec, spec: StepSpec, log: Log | None = None) -> StepResult:
    return rt.run_step(run, spec, (log or Log()).io)


def in_thread(fn: Callable[[], StepResult]) -> tuple[threading.Thread, list[StepResult]]:
    out: list[StepResult] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


TIMEOUTS = (1, 2, 4, 8, 16)
"""Step timeouts to try in turn when a test needs the step to get somewhere before it times out."""


def lines_written(*files: Path) -> bool:
    """Whether each file holds at least one whole line (its writer got that far)."""
    return all(f.exists() and f.read_text().endswith("\n") for f in files)


def marker() -> str:
    """A ``sleep`` argument no other process has: ``sleep {marker()}`` sleeps ~1000 s."""
    return f"1000.{uuid.uuid4().int % 10**9:09d}"


def running(mark: str) -> list[int]:
    """Host pids of live (non-zombie) processes whose command line holds ``mark``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if mark in cmdline and stat[stat.rfind(")") + 2 :].split()[:1] != ["Z"]:
            found.append(int(entry.name))
    return found


def wait_running(mark: str) -> list[int]:
    end = time.monotonic() + DEADLINE
    while not (pids := running(mark)):
        assert time.monotonic() < end, f"no process with {mark!r} started"
        time.sleep(0.02)
    return pids


def assert_none_running(*marks: str, timeout: float = DEADLINE) -> None:
    """No process with any of the marks is left (orphans may take a moment to be reaped)."""
    end = time.monotonic() + timeout
    for mark in marks:
        while pids := running(mark):
            assert time.monotonic() < end, f"processes {pids} ({mark}) are still alive"
            time.sleep(0.05)
