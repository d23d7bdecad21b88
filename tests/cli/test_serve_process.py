"""`platform init && platform serve` as real processes: the way an operator starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.plugins.s3 import free_port

PLATFORM = [sys.executable, "-m", "platform_sdk.cli"]


def _wait_until_up(url: str, proc: subprocess.Popen[str], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"server exited early:\n{proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"server never answered {url}")


def test_init_then_serve_answers_health_and_readiness_then_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "PLATFORM_DATA_DIR": str(tmp_path / "data"), "PLATFORM_LOG": "info:json"}
    init = subprocess.run(
        [*PLATFORM, "init"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert init.returncode == 0, init.stderr
    assert "admin_password" in init.stdout

    port = free_port()
    env["PLATFORM_LISTEN"] = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*PLATFORM, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/healthz", proc)
        assert httpx.get(f"{base}/healthz").status_code == 200
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    # uvicorn (>= 0.30, as pyproject requires) finishes its graceful shutdown, then re-raises
    # SIGTERM so the exit status says how the process ended (what systemd and Kubernetes expect)
    assert proc.returncode == -signal.SIGTERM, err
    assert "platform stopped" in err
    assert "Application shutdown complete" in err
    assert "alembic" not in err
    # structured JSON logs: the access log line of our readiness request
    lines = [line for line in err.splitlines() if '"path": "/readyz"' in line]
    assert lines, err


def test_serve_with_bad_config_exits_non_zero_naming_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "PLATFORM_DATA_DIR": str(tmp_path), "PLATFORM_RUNTIME": "docker"}
    proc = subprocess.run(
        [*PLATFORM, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "PLATFORM_RUNTIME" in proc.stderr
