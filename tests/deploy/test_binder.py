"""binder/postBuild in a clean checkout and a fresh virtualenv: the tour runs, and the Docker
image's entry point serves from that same kind of install.

The post-build step installs into the interpreter it is given: here a virtualenv made for the
test, with nothing of the dev environment in it, so a dependency postBuild forgets fails here
(pip's download cache is shared). The JupyterLab extension is copied already built
(``platform_sdk/labextension``, which the build hook then reuses): building it from TypeScript
in a fresh clone is the run command's test (tests/deploy/test_run_command.py).

The Docker image cannot be built here (no Docker engine on this machine). What can be checked
is its entry point: the Dockerfile's ``ENV``, ``ENTRYPOINT``, ``CMD`` and ``HEALTHCHECK`` are
read from the file and run against a non-editable install of the wheel's code — this one,
which holds the image's ``[workbench]`` extra (``test_core_dependencies`` checks that the
dashboards need nothing beyond it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy._fresh import clean_checkout, launch, newcomer_env, wait_for
from tests.deploy._tools import REPO, run
from tests.plugins.s3 import free_port

pytestmark = pytest.mark.timeout(1800)


@dataclass
class Built:
    repo: Path
    python: Path
    env: dict[str, str]
    output: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("binder")
    repo = clean_checkout(root / "repo")
    prebuilt = REPO / "platform_sdk" / "labextension"
    assert (prebuilt / "package.json").is_file(), "the dev install builds the extension first"
    shutil.copytree(prebuilt, repo / "platform_sdk" / "labextension")

    venv = root / "venv"
    made = run(sys.executable, "-m", "venv", str(venv))
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    env = newcomer_env()
    env.update(HOME=str(root), PYTHON=str(python), PLATFORM_PIP_CACHE="1")
    env["PIP_CACHE_DIR"] = str(Path.home() / ".cache" / "pip")  # HOME moved; the cache did not
    build = run(str(repo / "binder" / "postBuild"), cwd=root, env=env, timeout=1500)
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-4000:]
    env.pop("PLATFORM_PIP_CACHE")
    return Built(repo, python, env, build.stdout)


def test_post_build_installs_into_its_own_interpreter_and_initialises(built: Built) -> None:
    assert "admin_password" in built.output  # `platform init` ran and made the first admin
    assert (built.repo / ".platform" / "platform.db").is_file()
    installed = run(
        str(built.python),
        "-c",
        "import platform_sdk; print(platform_sdk.__file__)",
        cwd=built.repo.parent,
        env=built.env,
    )
    assert installed.returncode == 0, installed.stderr
    # a real install into the venv, not the checkout nor the dev environment
    assert installed.stdout.strip().startswith(str(built.python.parents[1]))


def test_binder_start_points_every_kernel_at_the_initialised_platform(built: Built) -> None:
    # binder/start is what Binder runs the notebook server under: from the notebooks' folder
    # the platform found is the one postBuild initialised, not a new one.
    opened = run(
        str(built.repo / "binder" / "start"),
        str(built.python),
        "-c",
        "import platform_sdk as ps; p = ps.open(); print(p.settings.data_dir); p.close()",
        cwd=built.repo / "notebooks",
        env=built.env,
    )
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.strip() == str(built.repo / ".platform")


def test_the_tour_notebook_runs_in_the_binder_install(built: Built) -> None:
    tour = run(
        str(built.repo / "binder" / "start"),
        str(built.python),
        "-m",
        "pytest",
        "--nbval-lax",
        "-p",
        "no:cacheprovider",
        "notebooks/00-tour.ipynb",
        cwd=built.repo,
        env=built.env,
        timeout=600,
    )
    assert tour.returncode == 0, tour.stdout[-4000:] + tour.stderr[-2000:]
    assert " passed" in tour.stdout
    assert not (built.repo / "notebooks" / ".platform").exists()


def dockerfile_instructions() -> dict[str, list[str]]:
    """The runtime stage's instructions by name (continuation lines joined)."""
    text = (REPO / "docker" / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    joined = re.sub(r"\\\n\s*", " ", runtime)
    out: dict[str, list[str]] = {}
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, rest = line.strip().partition(" ")
            out.setdefault(name.upper(), []).append(rest.strip())
    return out


def test_the_docker_entry_point_serves_api_and_dashboards_and_passes_its_healthcheck(
    built: Built, tmp_path: Path
) -> None:
    ins = dockerfile_instructions()
    env_pairs = dict(re.findall(r"(\w+)=(\S+)", " ".join(ins["ENV"])))
    entrypoint = json.loads(ins["ENTRYPOINT"][-1])
    command = json.loads(ins["CMD"][-1])
    assert entrypoint[:2] == ["tini", "--"]  # tini is the image's; the rest runs here
    program, *args = entrypoint[2:] + command
    assert (program, args) == ("platform", ["serve"])
    healthcheck = json.loads(ins["HEALTHCHECK"][-1].partition("CMD ")[2])
    assert healthcheck[0] == "python"

    port = free_port()
    env = {**built.env, **env_pairs}
    # the image's data dir and wildcard bind, moved to this test's folder and loopback port
    assert env_pairs["PLATFORM_LISTEN"] == "0.0.0.0:8080"
    env.update(PLATFORM_DATA_DIR=str(tmp_path / "data"), PLATFORM_LISTEN=f"127.0.0.1:{port}")
    scripts = built.python.parent
    init = run(str(scripts / program), "init", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    served = launch(tmp_path, args, env, port, tmp_path / "image.log", str(scripts / program))
    try:
        assert wait_for(served, "/healthz", 120).status_code == 200
        probe = subprocess.run(
            [str(built.python), *healthcheck[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
        assert httpx.get(f"{served.base}/dashboards/login", timeout=30).status_code == 200
        assert httpx.get(f"{served.base}/readyz", timeout=30).json()["status"] == "ready"
    finally:
        served.stop()
    assert "platform ready" in served.output()  # the image's JSON log format (PLATFORM_LOG)
    assert "Traceback" not in served.output(), served.output()[-4000:]


def test_binder_requirements_point_at_files_that_exist() -> None:
    binder = REPO / "binder"
    for line in (binder / "requirements.txt").read_text().splitlines():
        if line.startswith(("-c ", "-r ")):
            # pip reads nested paths relative to the requirements file.
            assert (binder / line.split(maxsplit=1)[1]).resolve().is_file(), line
    assert (binder / "runtime.txt").read_text().strip().startswith("python-3.")
