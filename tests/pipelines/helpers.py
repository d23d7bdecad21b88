"""Repositories with commits made straight in the bare repository (no server, no hooks)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from platform_sdk.core.access import Actor
from platform_sdk.git.repos import init_bare, repo_path
from platform_sdk.pipelines.schemas import RunOut
from platform_sdk.pipelines.services import runs
from platform_sdk.sdk import Platform
from tests.git.conftest import GIT_ENV
from tests.plugins.platforms import People


def commit_files(
    bare: Path, files: dict[str, str], branch: str = "main", base: str = "main"
) -> str:
    """Commit ``files`` on top of ``branch`` (a new branch starts at ``base``) directly into
    the bare repository."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **GIT_ENV,
            "GIT_DIR": str(bare),
            "GIT_WORK_TREE": tmp,
            "GIT_INDEX_FILE": os.path.join(tmp, ".index"),
        }
        head = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if not head:
            head = subprocess.run(
                ["git", "rev-parse", "-q", "--verify", f"refs/heads/{base}"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        if head:
            subprocess.run(["git", "read-tree", head], env=env, check=True)
        for name, text in files.items():
            path = Path(tmp) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            subprocess.run(["git", "add", "--", name], env=env, check=True)
        tree = subprocess.run(
            ["git", "write-tree"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        args = ["git", "commit-tree", tree, "-m", "commit"] + (["-p", head] if head else [])
        sha = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
        subprocess.run(
            ["git", "update-ref", f"refs/heads/{branch}", sha.strip()], env=env, check=True
        )
        return sha.strip()


def make_project(people: People, owner: Actor, name: str, files: dict[str, str]) -> Path:
    people.project(owner, name)
    bare = repo_path(people.platform.settings, owner.username, name)
    init_bare(bare)
    commit_files(bare, files)
    return bare


def wait_for(
    platform: Platform, actor: Actor, project: str, number: int, timeout: float = 60
) -> RunOut:
    deadline = time.monotonic() + timeout
    while True:
        with platform.session() as db:
            run = runs.get_run(db, actor=actor, project=project, number=number)
        if run.status.is_terminal:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run #{number} still {run.status} after {timeout} s")
        time.sleep(0.05)


class Gate:
    """Something a (sandboxed) step can wait for: a port on 127.0.0.1 that refuses connections
    until :meth:`open` (a step sees no file of the test's, but shares the host's loopback).
    The step runs :attr:`wait` (bash), or the same loop with the port from a parameter."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        self.port: int = self._sock.getsockname()[1]
        self.wait = (
            f"until (exec 3<>/dev/tcp/127.0.0.1/{self.port}) 2>/dev/null; do sleep 0.1; done"
        )

    def open(self) -> None:
        with contextlib.suppress(OSError):  # opened already
            self._sock.listen(64)

    def close(self) -> None:
        self._sock.close()


__all__ = ["Gate", "commit_files", "make_project", "uuid", "wait_for"]
