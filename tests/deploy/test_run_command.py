"""The README's run command, as a newcomer types it: a clean checkout, a fresh virtualenv.

``./hack/run.sh`` runs in a copy of the repository holding only what git would commit (no
``.venv``, no ``node_modules``, no built extension, no data dir), with an environment stripped
of the test run's settings and virtualenv, so nothing of the dev environment can hide a
dependency the run command forgot (pip's download cache is shared: that is a cache, not an
install). Then it walks the README's first minutes against the live server: sign in, open a
dashboard, create a project and push to it with the real git client, send a log record over
OTLP and find it with SQL — and ``./hack/run.sh lab`` serves JupyterLab with the platform's
sidebar and server extension over the same data dir.

The first install takes a few minutes (pip resolves and installs the whole run-time stack,
the extension's npm packages are fetched and built), so the walk shares one install.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy._fresh import Launched, clean_checkout, launch, newcomer_env, wait_for
from tests.plugins.s3 import free_port

pytestmark = pytest.mark.timeout(1800)

INSTALL_DEADLINE = 1500.0  # seconds for the first run: pip install + extension build + init


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    root = tmp_path_factory.mktemp("run-command")
    repo = clean_checkout(root / "repo")
    assert not (repo / ".venv").exists()
    assert not (repo / "extension" / "node_modules").exists()
    port = free_port()
    env = {**newcomer_env(), "PLATFORM_LISTEN": f"127.0.0.1:{port}"}
    launched = launch(repo, [], env, port, root / "serve.log")
    try:
        wait_for(launched, "/healthz", INSTALL_DEADLINE)
        yield launched
    finally:
        code = launched.stop()
        # uvicorn re-raises SIGTERM after its graceful shutdown; bash exec'd into it
        assert code == -signal.SIGTERM, launched.output()[-4000:]


def admin_password(output: str) -> str:
    found = re.search(r"^admin_password\s+(\S+)\s*$", output, re.MULTILINE)
    assert found, "the first run did not print the admin's password:\n" + output[-4000:]
    return found.group(1)


def test_the_first_run_installs_initialises_and_serves_health_and_readiness(
    served: Launched,
) -> None:
    assert (served.repo / ".venv" / "bin" / "platform").is_file()  # its own venv
    assert (served.repo / ".platform" / "platform.db").is_file()  # ./.platform by default
    health = httpx.get(served.base + "/healthz")
    assert health.status_code == 200
    ready = httpx.get(served.base + "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    output = served.output()
    assert "Traceback" not in output, output[-6000:]
    assert "dashboards not mounted" not in output
    # the start-up says where to go
    assert f"{served.base}/dashboards/" in output


def test_a_newcomer_signs_in_opens_a_dashboard_pushes_and_sends_otlp(
    served: Launched, tmp_path: Path
) -> None:
    base = served.base
    password = admin_password(served.output())
    with httpx.Client(base_url=base, timeout=60) as web:
        # a dashboard without signing in leads to the sign-in page
        first = web.get("/dashboards/observe", follow_redirects=False)
        assert first.status_code == 303, first.status_code
        assert first.headers["location"].startswith("/dashboards/login")
        assert web.get(first.headers["location"]).status_code == 200

        login = web.post("/api/auth/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        page = web.get("/dashboards/observe")
        assert page.status_code == 200, page.text[:500]
        assert "bokeh" in page.text.lower()  # a Panel page, not an error

        created = web.post("/api/projects", json={"name": "hello"})
        assert created.status_code == 201, created.text
        token = web.post("/api/tokens", json={"name": "first-minutes"})
        assert token.status_code == 201, token.text
        secret = token.json()["token"]

    work = tmp_path / "hello"
    work.mkdir()
    git_env = {
        **newcomer_env(),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Newcomer",
        "GIT_AUTHOR_EMAIL": "new@example.com",
        "GIT_COMMITTER_NAME": "Newcomer",
        "GIT_COMMITTER_EMAIL": "new@example.com",
        "HOME": str(tmp_path),
    }

    def git(*args: str) -> None:
        done = subprocess.run(
            ["git", *args], cwd=work, env=git_env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr

    git("init", "-q", "-b", "main")
    (work / "README.md").write_text("# hello\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "first commit")
    git(
        "push", f"http://admin:{secret}@127.0.0.1:{base.rpartition(':')[2]}/admin/hello.git", "main"
    )

    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, timeout=60, headers=auth) as api:
        readme = api.get(
            "/api/projects/admin/hello/files",
            params={"path": "README.md", "ref": "main", "raw": "true"},
        )
        assert readme.status_code == 200, readme.text
        assert "# hello" in readme.text

        record = {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "newcomer"}},
                            {"key": "platform.project", "value": {"stringValue": "admin/hello"}},
                        ]
                    },
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "timeUnixNano": str(time.time_ns()),
                                    "severityText": "INFO",
                                    "body": {"stringValue": "hello from the first minutes"},
                                }
                            ]
                        }
                    ],
                }
            ]
        }
        sent = api.post(
            "/v1/logs", content=json.dumps(record), headers={"Content-Type": "application/json"}
        )
        assert sent.status_code == 200, sent.text
        found = api.post(
            "/api/observe/sql",
            json={"query": "select body from logs where service = 'newcomer'"},
        )
        assert found.status_code == 200, found.text
        assert found.json()["rows"] == [["hello from the first minutes"]]


def test_run_sh_lab_serves_jupyterlab_with_the_platform_extension(
    served: Launched, tmp_path: Path
) -> None:
    """Second command of the README: the same install, JupyterLab over the same data dir."""
    port = free_port()
    token = "lab-test-token"
    env = newcomer_env()
    lab = launch(
        served.repo,
        ["lab", "--no-browser", f"--port={port}", f"--IdentityProvider.token={token}"],
        env,
        port,
        tmp_path / "lab.log",
    )
    try:
        wait_for(lab, "/api/status", 300)
        headers = {"Authorization": f"token {token}"}
        page = httpx.get(f"{lab.base}/lab", headers=headers, timeout=30)
        assert page.status_code == 200
        assert "platform-sdk" in page.text  # the labextension is among the page's federated ones
        config = httpx.get(f"{lab.base}/platform/config", headers=headers, timeout=30)
        assert config.status_code == 200, config.text
        projects = httpx.get(f"{lab.base}/platform/projects", headers=headers, timeout=60)
        assert projects.status_code == 200, projects.text
        names = [p["name"] for p in projects.json()["items"]]
        assert "hello" in names  # the project the newcomer created through the server
    finally:
        lab.stop()
    assert "Traceback" not in lab.output(), lab.output()[-4000:]
