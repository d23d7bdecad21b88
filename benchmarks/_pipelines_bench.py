"""The server, repositories and measurements behind benchmarks/pipelines.py. Not a benchmark
itself."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import platform_sdk as ps
from platform_sdk.server import create_app

GOAL_SECONDS = 0.5

ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.test",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.test",
    "LANG": "C.UTF-8",
}

LATENCY_PIPELINE = """\
pipeline:
  steps:
    - name: first
      commands: ["echo first line", "sleep {sleep}", "echo done"]
    - name: second
      depends_on: [first]
      commands: ["echo second"]
"""

TRIVIAL_PIPELINE = """\
pipeline:
  steps:
    - name: echo
      commands: ["echo hi"]
"""


def git(*args: str, cwd: Path) -> None:
    cmd = ["git", "-c", "init.defaultBranch=main", "-c", "credential.helper=", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"git {args[0]} failed ({proc.returncode}):\n{proc.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


class Server:
    """``create_app(platform)`` under uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, platform: ps.Platform) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(platform), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def spawn_echo() -> float:
    start = time.perf_counter()
    subprocess.run(["bash", "-c", "echo hi"], capture_output=True, check=True)
    return time.perf_counter() - start


def checkout_and_spawn(bare: Path, sha: str, root: Path) -> float:
    """What the local runtime does for a one-step run, plainly: a fresh one-commit checkout
    (``git init``, ``fetch --depth=1``, ``checkout --detach``), ``bash -c 'echo hi'`` in it,
    removal of the folder."""
    start = time.perf_counter()
    ws = Path(tempfile.mkdtemp(dir=root))
    git("init", "--quiet", "--template=", str(ws), cwd=ws)
    fetch = ["fetch", "--quiet", "--depth=1", "--no-tags", "--no-write-fetch-head"]
    git(*fetch, str(bare), sha, cwd=ws)
    git("checkout", "--quiet", "--detach", sha, cwd=ws)
    subprocess.run(["bash", "-c", "echo hi"], cwd=ws, capture_output=True, check=True)
    shutil.rmtree(ws)
    return time.perf_counter() - start


def parallel(fn: Callable[[], float], count: int, width: int) -> float:
    """Seconds for ``count`` calls of ``fn`` over ``width`` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, width)) as pool:
        list(pool.map(lambda _: fn(), range(count)))
    return time.perf_counter() - start


def setup_repo(work: Path, remote: str, pipeline: str) -> None:
    work.mkdir(parents=True)
    git("init", "-q", cwd=work)
    (work / ".platform.yaml").write_text(pipeline)
    (work / "counter.txt").write_text("0\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "pipeline", cwd=work)
    git("remote", "add", "origin", remote, cwd=work)
    git("push", "-q", "-u", "origin", "main", cwd=work)


class Follower:
    """Follows a run over the server's SSE endpoint, as a live client does."""

    def __init__(self, client: httpx.Client, project: str) -> None:
        self.client = client
        self.project = project

    def follow(self, number: int, since: float, step: str) -> tuple[float, float]:
        """Seconds from ``since`` to the first ``log`` event of ``step`` and to ``end``."""
        url = f"/api/projects/{self.project}/pipelines/{number}/events"
        first_log, kind = None, ""
        with self.client.stream("GET", url, timeout=120) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "log" and first_log is None:
                    if json.loads(line.removeprefix("data: "))["step"] == step:
                        first_log = time.perf_counter() - since
                elif line.startswith("data: ") and kind == "end":
                    end = time.perf_counter() - since
                    if first_log is None:
                        raise SystemExit(f"run #{number}: no log line from step {step!r}")
                    return first_log, end
        raise SystemExit(f"run #{number}: the event stream closed before its end")


def measure_latency(
    proj: Any, follower: Follower, work: Path, pushes: int
) -> dict[str, list[float]]:
    """One push at a time; see the module docstring."""
    warmup = proj.pipelines.latest()  # the push that added the pipeline
    if warmup is None:
        raise SystemExit("the first push started no pipeline")
    warmup.wait(timeout=60, drive=False)
    out: dict[str, list[float]] = {
        k: [] for k in ("push", "queued", "step", "log", "handoff", "run", "end")
    }
    for i in range(1, pushes + 1):
        (work / "counter.txt").write_text(f"{i}\n")
        git("commit", "-q", "-am", f"change {i}", cwd=work)
        t0 = time.perf_counter()
        git("push", "-q", "origin", "main", cwd=work)
        returned, returned_wall = time.perf_counter(), datetime.now(UTC)
        number = warmup.number + i
        first_log, end = follower.follow(number, returned, "first")
        run = proj.pipelines.get(number)
        if run.trigger != "push" or run.status != "success":
            raise SystemExit(f"run #{number}: {run.trigger} run ended {run.status}: {run.error}")
        steps = run.steps
        first, second = steps["first"], steps["second"]
        out["push"].append(returned - t0)
        out["queued"].append((run.created_at - returned_wall).total_seconds())
        out["step"].append((first.started_at - returned_wall).total_seconds())
        out["log"].append(first_log)
        out["handoff"].append((second.started_at - first.finished_at).total_seconds())
        out["run"].append((run.finished_at - returned_wall).total_seconds())
        out["end"].append(end)
    return out


def measure_throughput(proj: Any, runs: int, trigger: Callable[[], int]) -> dict[str, Any]:
    """Queue ``runs`` manual runs with ``trigger`` (answers the run's number), wait for all."""
    start_wall, start = datetime.now(UTC), time.perf_counter()
    numbers = [trigger() for _ in range(runs)]
    queued = time.perf_counter() - start
    deadline = time.monotonic() + 600
    handles = []
    for number in numbers:
        handle = proj.pipelines.get(number)
        handle.wait(timeout=max(1.0, deadline - time.monotonic()), drive=False)
        handles.append(handle)
    failed = [h.number for h in handles if h.status != "success"]
    if failed:
        raise SystemExit(f"runs {failed} did not succeed")
    steps = [h.steps["echo"] for h in handles]
    return {
        "elapsed": (max(h.finished_at for h in handles) - start_wall).total_seconds(),
        "queue_calls": queued,
        "wait": [
            (s.started_at - h.created_at).total_seconds()
            for s, h in zip(steps, handles, strict=True)
        ],
        "step": [s.duration for s in steps],
        "run": [(h.finished_at - h.created_at).total_seconds() for h in handles],
    }
