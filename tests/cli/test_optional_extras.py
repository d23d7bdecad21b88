"""Without an optional extra the platform says what to install, once, and never a traceback.

The libraries of the ``workbench`` extra are hidden from a child process by a shadowing
package that fails to import the way a missing one does (``ModuleNotFoundError`` naming it),
so the dev environment can play an install without the extra.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.test_serve_process import _wait_until_up
from tests.plugins.s3 import free_port

HINT = "pip install 'platform-sdk[workbench]'"


@pytest.fixture
def without_workbench(tmp_path: Path) -> dict[str, str]:
    hidden = tmp_path / "hidden"
    for name in ("panel", "hvplot", "holoviews"):
        (hidden / name).mkdir(parents=True)
        (hidden / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name='{name}')\n"
        )
    path = os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PYTHONPATH": path,
        "PLATFORM_DATA_DIR": str(tmp_path / "data"),
        "PLATFORM_LOG": "info",
    }


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platform_sdk.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_without_the_workbench_serves_the_api_and_names_the_extra_once(
    without_workbench: dict[str, str],
) -> None:
    env = without_workbench
    assert cli("init", env=env).returncode == 0
    port = free_port()
    env = {**env, "PLATFORM_LISTEN": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "platform_sdk.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/healthz", proc)
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/dashboards/observe").status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "the dashboards are off" in line]
    assert len(lines) == 1, err
    assert HINT in lines[0]
    assert "panel is not installed" in lines[0]
    assert "dashboards at" not in err  # no link to what is not served


def test_the_dashboards_verb_without_the_workbench_names_the_extra(
    without_workbench: dict[str, str],
) -> None:
    done = cli("dashboards", env=without_workbench)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert HINT in done.stderr
    assert "the dashboards need the 'workbench' extra" in done.stderr


def test_sdk_views_without_the_workbench_raise_the_config_error_naming_the_extra(
    without_workbench: dict[str, str],
) -> None:
    script = (
        "import platform_sdk as ps\n"
        "from platform_sdk.errors import ConfigError\n"
        "p = ps.open()\n"
        "try:\n"
        "    p.dashboards\n"
        "except ConfigError as exc:\n"
        "    print('refused:', exc.message)\n"
        "p.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=without_workbench,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused: extra 'workbench': the dashboards need the 'workbench' extra" in done.stdout
    assert HINT in done.stdout
