"""Installing the package installs and enables both halves of the JupyterLab extension."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

JUPYTER = Path(sys.executable).parent / "jupyter"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jupyter(*args: str) -> str:
    """``jupyter …`` from this environment, without the tests' Jupyter path overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    done = subprocess.run(
        [str(JUPYTER), *args], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_labextension_is_installed_and_enabled() -> None:
    out = jupyter("labextension", "list")
    assert re.search(r"platform-sdk v\S+ enabled\s+OK\s+\(python, platform-sdk\)", out), out


def test_server_extension_is_enabled_and_valid() -> None:
    out = jupyter("server", "extension", "list")
    assert re.search(r"platform_sdk\.jupyter\s+enabled", out), out
    assert re.search(r"platform_sdk\.jupyter\s+\S*\s*OK", out), out
