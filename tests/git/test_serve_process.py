"""Git hosting through `platform serve` itself, started the way an operator starts it.

The other git tests run the app in a thread; this one runs the real command with a data dir
given relative to its working directory, which is how ``./hack/run.sh`` runs it. It caught
hooks that git could not find (a relative ``core.hooksPath``), so pushes went unrecorded and
protected branches unprotected.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_serve_process import _wait_until_up
from tests.plugins.s3 import free_port

PLATFORM = [sys.executable, "-m", "platform_sdk.cli"]


def _cli(cwd: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [*PLATFORM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_pushes_through_platform_serve_are_recorded_and_protected(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "DATABASE_URL"))}
    env |= {"PLATFORM_DATA_DIR": "data", "PLATFORM_LISTEN": f"127.0.0.1:{port}"}
    _cli(tmp_path, env, "init")
    _cli(tmp_path, env, "users", "create", "lena", "--no-password")
    _cli(tmp_path, env, "grant", "developer", "lena")
    token = json.loads(_cli(tmp_path, env, "tokens", "create", "t", "--user", "lena", "--json"))
    _cli(tmp_path, env, "--as", "lena", "projects", "create", "shop")
    _cli(tmp_path, env, "projects", "update", "lena/shop", "--protect", "main")

    server = subprocess.Popen(
        [*PLATFORM, "serve"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    git_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "L",
        "GIT_AUTHOR_EMAIL": "l@example.com",
        "GIT_COMMITTER_NAME": "L",
        "GIT_COMMITTER_EMAIL": "l@example.com",
    }
    url = f"http://lena:{token['token']}@127.0.0.1:{port}/lena/shop.git"

    def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=tmp_path / "work",
            env=git_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        (tmp_path / "work").mkdir()
        git("init", "-q", "-b", "main")
        (tmp_path / "work" / "README.md").write_text("hi\n")
        git("add", ".")
        git("commit", "-q", "-m", "first")
        git("push", "-q", url, "main")
        git("commit", "-q", "--amend", "-m", "rewritten")
        refused = git("push", "-f", url, "main", check=False)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert refused.returncode != 0
    assert "refusing to force-push protected branch main" in refused.stderr
    audit = json.loads(_cli(tmp_path, env, "audit", "--action", "git.push", "--json"))
    assert [row["actor_name"] for row in audit] == ["lena"]
    if not (tmp_path / "data" / "git-hooks").is_dir():
        pytest.fail("hooks were not installed in the data dir")
