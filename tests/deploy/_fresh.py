"""A newcomer's machine for the tests that install the project from scratch.

``clean_checkout`` copies what git would commit (tracked files and new ones not ignored: no
``.venv``, no ``node_modules``, no built extension, no data dir), so a local run tests the
working tree as it would land and CI tests its clean clone. ``newcomer_env`` is this shell's
environment without the test run's settings, virtualenv and Jupyter paths; pip's download
cache stays shared (a cache, not an install).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy._tools import REPO


def clean_checkout(dest: Path) -> Path:
    """The files git would commit (tracked, and new files not ignored), as in a fresh clone."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree, not yet committed
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def newcomer_env() -> dict[str, str]:
    """The environment of a shell on this machine, minus everything the test run sets."""
    dev_bins = {str(REPO / ".venv" / "bin"), os.path.dirname(sys.executable)}
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in dev_bins]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PLATFORM_", "MINIO_", "JUPYTER", "PYTEST", "COV_"))
        and k not in {"DATABASE_URL", "VALKEY_URL", "KUBECONFIG", "VIRTUAL_ENV", "PYTHONPATH"}
    }
    env["PATH"] = os.pathsep.join(path)
    env["PIP_NO_INPUT"] = "1"
    return env


@dataclass
class Launched:
    repo: Path
    proc: subprocess.Popen[bytes]
    log: Path
    base: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        return self.proc.returncode


def launch(
    repo: Path,
    args: list[str],
    env: dict[str, str],
    port: int,
    log: Path,
    program: str = "./hack/run.sh",
) -> Launched:
    out = log.open("wb")
    proc = subprocess.Popen(
        [program, *args],
        cwd=repo,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() ends pip, node or the server
    )
    out.close()
    return Launched(repo, proc, log, f"http://127.0.0.1:{port}")


def wait_for(launched: Launched, path: str, deadline: float) -> httpx.Response:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if launched.proc.poll() is not None:
            pytest.fail(
                f"{launched.proc.args[0]} exited with {launched.proc.returncode} before serving:\n"
                + launched.output()[-6000:]
            )
        try:
            return httpx.get(launched.base + path, timeout=5.0)
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail(f"nothing answered {path} in {deadline:.0f} s:\n" + launched.output()[-6000:])
