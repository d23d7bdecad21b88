"""A project whose repository has real history, built with the git CLI and pushed to its bare
repository the way a user would (``git push file://…``).

History (dates fixed, so order is deterministic)::

    main:    c1 ── c2 ── c3 ── c4
                    \\
    feature:         f1

- c1 (root): README.md, src/app/main.py                 tag ``light`` (lightweight)
- c2: README.md changed, logo.png (binary) added        tag ``v1`` (annotated)
- c3: src/app/main.py renamed to src/app/entry.py
- c4: big.txt (over the 1 MiB read limit)
- f1: feature.txt
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from platform_sdk.core.access import Actor
from platform_sdk.git.repos import git_env, repo_path
from platform_sdk.projects.schemas import ProjectCreate
from platform_sdk.projects.services import projects as service
from platform_sdk.sdk import Platform

LOGO = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
BIG = b"x" * (1024 * 1024 + 10)


@dataclass
class Built:
    full_name: str
    bare: Path
    shas: dict[str, str]


def git(cwd: Path, *args: str, when: int = 0) -> str:
    date = f"2024-01-0{when + 1}T12:00:00+00:00"
    env = git_env({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)
    return proc.stdout.decode().strip()


def build(platform: Platform, owner: Actor, work: Path, name: str = "app") -> Built:
    with platform.session() as db:
        full = service.create_project(db, actor=owner, body=ProjectCreate(name=name)).full_name
    bare = repo_path(platform.settings, owner.username, name)
    work.mkdir(parents=True)
    git(work, "init", "-q", "--initial-branch=main")
    shas: dict[str, str] = {}

    def commit(key: str, message: str, when: int) -> None:
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message, when=when)
        shas[key] = git(work, "rev-parse", "HEAD")

    (work / "README.md").write_text("hello\n")
    (work / "src" / "app").mkdir(parents=True)
    (work / "src" / "app" / "main.py").write_text("print('hi')\n")
    commit("c1", "first commit\n\nwith a body", 0)
    git(work, "tag", "light")
    (work / "README.md").write_text("hello\nworld\n")
    (work / "logo.png").write_bytes(LOGO)
    commit("c2", "add logo", 1)
    git(work, "tag", "-a", "v1", "-m", "release one", when=1)
    git(work, "branch", "feature")
    git(work, "mv", "src/app/main.py", "src/app/entry.py")
    commit("c3", "rename main", 2)
    (work / "big.txt").write_bytes(BIG)
    commit("c4", "big file", 3)
    git(work, "checkout", "-q", "feature")
    (work / "feature.txt").write_text("new\n")
    commit("f1", "feature work", 4)
    git(work, "push", "-q", f"file://{bare}", "main", "feature", "--tags")
    return Built(full_name=full, bare=bare, shas=shas)
