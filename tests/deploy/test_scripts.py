"""The kind scripts say what is missing instead of failing half-way (no Docker here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.deploy._tools import REPO, run


def _bare_path(tmp_path: Path, *commands: str) -> dict[str, str]:
    """An environment whose PATH has only ``commands`` (the scripts add .venv/bin)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in commands:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize(
    ("script", "missing"),
    [("kind-up.sh", "docker not found on PATH"), ("kind-down.sh", "kind not found on PATH")],
)
def test_cluster_scripts_name_the_missing_tool(tmp_path: Path, script: str, missing: str) -> None:
    env = _bare_path(tmp_path, "dirname", "grep")
    result = run("/bin/bash", str(REPO / "hack" / script), env=env)
    assert result.returncode == 1
    assert missing in result.stderr


def test_port_forward_refuses_an_unknown_service(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none.yaml")}
    result = run(str(REPO / "hack" / "port-forward.sh"), "platform", "mongo", env=env)
    assert result.returncode == 2
    assert "unknown service mongo" in result.stderr
    assert "platform postgres valkey minio otel" in result.stderr
