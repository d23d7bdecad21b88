"""Branch protection enforced on pushed ref updates, and the services around pushes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_sdk.core.audit import AuditLog
from platform_sdk.errors import PermissionDenied
from platform_sdk.git.models import Push
from platform_sdk.git.services.pushes import list_pushes
from platform_sdk.projects.schemas import ProjectUpdate
from platform_sdk.projects.services.projects import get_project, update_project
from platform_sdk.sdk import Platform
from tests.git.conftest import GitServer, commit, git


def _protect(db: Any, actor: Any, patterns: list[str]) -> Any:
    """Protection is a project setting (project admins): one mechanism for every entry point."""
    body = ProjectUpdate(protected_branches=patterns)
    return update_project(db, actor=actor, ref="alice/app", body=body)


def _setup(srv: GitServer) -> tuple[object, object]:
    alice, _ = srv.user("alice", roles=("developer",))
    project_id = srv.repo(alice, "app")
    boss, _ = srv.user("boss", project_roles={project_id: ("admin",)})
    work = srv.workdir()
    git("clone", "-q", srv.url("alice", "app", "alice"), str(work / "a"))
    commit(work / "a", "base", "base")
    git("push", "-q", "origin", "main", cwd=work / "a")
    git("push", "-q", "origin", "main:feature", cwd=work / "a")
    git("push", "-q", "origin", "main:release/1.0", cwd=work / "a")
    with srv.platform.session() as db:
        _protect(db, boss, ["main", "release/*"])
    return work, project_id


def test_force_push_and_delete_of_protected_branches_are_refused(git_server: GitServer) -> None:
    work, project_id = _setup(git_server)
    a = work / "a"  # type: ignore[operator]
    git("commit", "-q", "--amend", "-m", "rewritten", cwd=a)
    proc = git("push", "-f", "origin", "main", cwd=a, check=False)
    assert proc.returncode != 0
    assert "remote: refusing to force-push protected branch main" in proc.stderr
    proc = git("push", "-f", "origin", "HEAD:release/1.0", cwd=a, check=False)
    assert "refusing to force-push protected branch release/1.0" in proc.stderr
    proc = git("push", "origin", ":main", cwd=a, check=False)
    assert proc.returncode != 0
    assert "remote: refusing to delete protected branch main" in proc.stderr

    # unprotected branches accept both, and a fast-forward of main is fine
    git("push", "-q", "-f", "origin", "HEAD:feature", cwd=a)
    git("push", "-q", "origin", ":feature", cwd=a)
    git("reset", "-q", "--hard", "origin/main", cwd=a)
    commit(a, "next", "next")
    git("push", "-q", "origin", "main", cwd=a)

    with git_server.platform.session() as db:
        rows = db.scalars(
            select(Push).where(Push.project_id == project_id, Push.ref == "refs/heads/feature")
        ).all()
    forced = [r for r in rows if r.forced]
    deleted = [r for r in rows if set(r.after) == {"0"}]
    assert len(forced) == 1
    assert forced[0].commit_count == 1
    assert len(deleted) == 1
    # refused pushes left main where it was before the fast-forward
    remote = git("ls-remote", git_server.url("alice", "app", "alice"), cwd=a).stdout
    assert "refs/heads/feature" not in remote
    assert "refs/heads/release/1.0" in remote


def test_changing_protection_needs_project_admin_and_is_audited(git_server: GitServer) -> None:
    _work, project_id = _setup(git_server)
    alice = git_server.users["alice"][0]
    boss = git_server.users["boss"][0]
    with git_server.platform.session() as db:
        dev = git_server.people.user("dev", project_roles={project_id: ("developer",)})  # type: ignore[dict-item]
        with pytest.raises(PermissionDenied):
            _protect(db, dev, [])
        with pytest.raises(ValueError, match="branch name"):
            ProjectUpdate(protected_branches=[""])
        out = _protect(db, boss, ["refs/heads/main", "main"])
        assert out.protected_branches == ["main"]
        assert get_project(db, actor=alice, ref="alice/app").protected_branches == ["main"]
        rows = db.scalars(select(AuditLog).where(AuditLog.action == "project.update")).all()
        changes = [r.details["changes"]["protected_branches"] for r in rows]
        assert changes[-1][1] == ["main"]
        page = list_pushes(db, actor=alice, project="alice/app")
        assert page.total == 3
        assert {p.ref for p in page.items} == {
            "refs/heads/main",
            "refs/heads/feature",
            "refs/heads/release/1.0",
        }


def test_the_push_log_over_http_and_sdk(git_server: GitServer) -> None:
    _setup(git_server)
    alice_token = git_server.users["alice"][1]
    base = f"{git_server.base}/api/projects/alice/app/pushes"
    r = httpx.get(base, params={"per_page": 2}, headers=git_server.people.auth(alice_token))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3
    assert len(body["items"]) == 2
    assert body["items"][0]["ref"] == "refs/heads/release/1.0"  # newest first
    assert body["items"][0]["pusher_id"] == str(git_server.users["alice"][0].user_id)
    _, stranger = git_server.user("stranger")
    r = httpx.get(base, headers=git_server.people.auth(stranger))
    assert r.status_code == 404
    sdk = Platform(git_server.platform.settings, user="alice")
    try:
        assert [p.ref for p in sdk.projects.get("alice/app").repo.pushes()][-1] == (
            "refs/heads/main"
        )
    finally:
        sdk.close()
