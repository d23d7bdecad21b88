"""A live server for the real ``git`` client: uvicorn in a thread serving GitHttp over create_app.

``git_server`` serves the test's ``platform`` (SQLite and PostgreSQL) on a free port; ``repo``
makes a project with its bare repository; ``git(...)`` runs the real client with no user config
and no prompts.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from platform_sdk.core.access import Actor
from platform_sdk.git.http import GitHttp
from platform_sdk.git.repos import init_bare, repo_path
from platform_sdk.projects.models import Visibility
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People

GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "t@example.test",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "t@example.test",
    "LANG": "C.UTF-8",
}


def git(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real git client; ``check`` fails the test with git's stderr."""
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "credential.helper=", *args],
        cwd=cwd,
        env=GIT_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def commit(work: Path, name: str, content: str | bytes, message: str | None = None) -> str:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", message or f"change {name}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


@dataclass
class GitServer:
    platform: Platform
    people: People
    app: GitHttp
    port: int
    tmp: Path
    users: dict[str, tuple[Actor, str]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def user(self, name: str, **kwargs: object) -> tuple[Actor, str]:
        actor = self.people.user(name, **kwargs)  # type: ignore[arg-type]
        token = self.people.token(actor)
        self.users[name] = (actor, token)
        return actor, token

    def repo(
        self, owner: Actor, name: str, visibility: Visibility = Visibility.PRIVATE
    ) -> uuid.UUID:
        project_id = self.people.project(owner, name, visibility)
        init_bare(repo_path(self.platform.settings, owner.username, name))
        return project_id

    def url(self, owner: str, name: str, who: str | None = None, secret: str | None = None) -> str:
        if who is None:
            return f"{self.base}/{owner}/{name}.git"
        cred = secret if secret is not None else self.users[who][1]
        return f"http://{who}:{cred}@127.0.0.1:{self.port}/{owner}/{name}.git"

    def workdir(self) -> Path:
        path = self.tmp / f"w-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path


def serve(app: GitHttp, port: int = 0) -> Iterator[int]:
    """Serve ``app`` in a thread; yields the port it listens on (port 0: the kernel picks one
    while binding, so no other process can take it between choosing and binding)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("test server did not start")
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def git_server(
    platform: Platform, people: People, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[GitServer]:
    """The platform served over HTTP with git in front; ``@pytest.mark.git_cap(n)`` caps it."""
    marker = request.node.get_closest_marker("git_cap")
    cap = marker.args[0] if marker else None
    app = GitHttp(create_app(platform), platform=platform, max_concurrency=cap, timeout=120)
    gen = serve(app)
    port = next(gen)
    try:
        yield GitServer(platform=platform, people=people, app=app, port=port, tmp=tmp_path)
    finally:
        next(gen, None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "git_cap(n): cap concurrent git processes of git_server")
