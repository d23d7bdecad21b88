"""binder/postBuild, run in a temporary checkout, leaves a platform the tour notebook runs on.

The post-build step installs into the interpreter it is given. Here that is a fresh virtualenv
which sees the dev environment's packages through a ``.pth`` file, so pip finds every
dependency already there and only builds and installs the package itself (non-editable,
from the copied tree: the wheel's migrations are exercised too). The JupyterLab extension is
copied already built (``platform_sdk/labextension``, which the build hook then reuses):
building it from TypeScript is the extension's own test (tests/jupyter).
"""

from __future__ import annotations

import os
import shutil
import site
import sys
from pathlib import Path

from tests.deploy._tools import REPO, run


def _checkout(dest: Path) -> Path:
    repo = dest / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".platform", ".ipynb_checkpoints")
    for name in ("platform_sdk", "migrations", "binder", "notebooks"):
        shutil.copytree(REPO / name, repo / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE", "hack/constraints.txt"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, repo / name)
    for name in ("jupyter-config",):
        shutil.copytree(REPO / name, repo / name)
    (repo / "extension").mkdir()
    shutil.copy2(REPO / "extension" / "install.json", repo / "extension" / "install.json")
    return repo


def _virtualenv(dest: Path) -> Path:
    venv = dest / "venv"
    result = run(sys.executable, "-m", "venv", str(venv))
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    purelib = run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    dev_site = "\n".join(site.getsitepackages())
    Path(purelib.stdout.strip(), "dev-environment.pth").write_text(dev_site + "\n")
    return python


def test_post_build_leaves_a_platform_the_tour_notebook_runs_on(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    python = _virtualenv(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "MINIO_"))}
    env.update(HOME=str(tmp_path), PYTHON=str(python), PIP_NO_INPUT="1")
    for name in ("DATABASE_URL", "VALKEY_URL", "KUBECONFIG", "VIRTUAL_ENV"):
        env.pop(name, None)

    build = run(str(repo / "binder" / "postBuild"), cwd=tmp_path, env=env, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "admin_password" in build.stdout  # `platform init` ran and made the first admin
    assert (repo / ".platform" / "platform.db").is_file()

    installed = run(
        str(python),
        "-c",
        "import platform_sdk; print(platform_sdk.__file__)",
        cwd=tmp_path,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip().startswith(str(tmp_path / "venv"))  # not the dev checkout

    # binder/start is what Binder runs the notebook server under: from the notebooks' folder
    # the platform found is the one postBuild initialised, not a new one.
    opened = run(
        str(repo / "binder" / "start"),
        str(python),
        "-c",
        "import platform_sdk as ps; p = ps.open(); print(p.settings.data_dir); p.close()",
        cwd=repo / "notebooks",
        env=env,
    )
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.strip() == str(repo / ".platform")

    tour = run(
        str(repo / "binder" / "start"),
        str(python),
        "-m",
        "pytest",
        "--nbval-lax",
        "-p",
        "no:cacheprovider",
        "notebooks/00-tour.ipynb",
        cwd=repo,
        env=env,
        timeout=600,
    )
    assert tour.returncode == 0, tour.stdout[-4000:] + tour.stderr[-2000:]
    assert " passed" in tour.stdout
    assert not (repo / "notebooks" / ".platform").exists()


def test_binder_requirements_point_at_files_that_exist() -> None:
    binder = REPO / "binder"
    for line in (binder / "requirements.txt").read_text().splitlines():
        if line.startswith(("-c ", "-r ")):
            # pip reads nested paths relative to the requirements file.
            assert (binder / line.split(maxsplit=1)[1]).resolve().is_file(), line
    assert (binder / "runtime.txt").read_text().strip().startswith("python-3.")
