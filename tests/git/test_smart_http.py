"""The real git client against a running server: clone, push, fetch, v0 and v2, auth, limits."""

from __future__ import annotations

import gzip
import os
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_sdk.core.audit import AuditLog
from platform_sdk.git.models import Push
from platform_sdk.projects.models import Visibility
from tests.git.conftest import GitServer, commit, git


def _owner(srv: GitServer, name: str = "alice") -> Any:
    actor, _ = srv.user(name, roles=("developer",))
    return actor


def test_clone_empty_push_clone_fetch_over_v0_and_v2(git_server: GitServer) -> None:
    alice = _owner(git_server)
    git_server.repo(alice, "app")
    url = git_server.url("alice", "app", "alice")
    work = git_server.workdir()
    git("clone", "-q", url, str(work / "a"))  # empty repository
    first = commit(work / "a", "README.md", "hello\n")
    git("push", "-q", "origin", "main", cwd=work / "a")

    for version in ("0", "2"):
        dest = work / f"v{version}"
        git("-c", f"protocol.version={version}", "clone", "-q", url, str(dest))
        assert (dest / "README.md").read_text() == "hello\n"
        assert git("rev-parse", "HEAD", cwd=dest).stdout.strip() == first

    second = commit(work / "a", "b.txt", "more\n")
    git("push", "-q", "origin", "main", cwd=work / "a")
    for version in ("0", "2"):
        git("-c", f"protocol.version={version}", "fetch", "-q", "origin", cwd=work / f"v{version}")
        fetched = git("rev-parse", "origin/main", cwd=work / f"v{version}").stdout.strip()
        assert fetched == second


def test_push_is_recorded_audited_and_emitted(git_server: GitServer) -> None:
    seen: list[dict[str, Any]] = []
    git_server.platform.runtime.subscribe("events.push", lambda db, payload: seen.append(payload))
    alice = _owner(git_server)
    project_id = git_server.repo(alice, "app")
    work = git_server.workdir()
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work / "a"))
    commit(work / "a", "one", "1")
    head = commit(work / "a", "two", "2")
    git("push", "-q", "origin", "main", cwd=work / "a")

    with git_server.platform.session() as db:
        rows = db.scalars(select(Push).where(Push.project_id == project_id)).all()
        audits = db.scalars(select(AuditLog).where(AuditLog.action == "git.push")).all()
    assert [(r.ref, r.after, r.commit_count, r.forced) for r in rows] == [
        ("refs/heads/main", head, 2, False)
    ]
    assert rows[0].pusher_id == alice.user_id
    assert len(audits) == 1
    assert audits[0].project_id == project_id
    assert seen == [
        {
            "type": "push",
            "project_id": str(project_id),
            "project": "alice/app",
            "actor": "alice",
            "actor_id": str(alice.user_id),
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": head,
            "forced": False,
            "created": True,
            "deleted": False,
            "commits": 2,
        }
    ]


def test_push_without_write_is_refused_with_a_clear_message(git_server: GitServer) -> None:
    alice = _owner(git_server)
    project_id = git_server.repo(alice, "app")
    git_server.user("victor", project_roles={project_id: ("viewer",)})
    work = git_server.workdir()
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work / "a"))
    commit(work / "a", "x", "x")
    git("push", "-q", "origin", "main", cwd=work / "a")

    git("clone", "-q", git_server.url("alice", "app", "victor"), str(work / "v"))  # may read
    commit(work / "v", "y", "y")
    proc = git("push", "origin", "main", cwd=work / "v", check=False)
    assert proc.returncode != 0
    assert "victor lacks project:write on alice/app" in proc.stderr
    assert "403" in proc.stderr


def test_password_works_and_wrong_credentials_are_refused(git_server: GitServer) -> None:
    alice = _owner(git_server)
    git_server.repo(alice, "app")
    work = git_server.workdir()
    password = "correct%20horse%20battery%20staple"  # People.PASSWORD, URL-encoded
    git("clone", "-q", git_server.url("alice", "app", "alice", password), str(work / "p"))
    bad = git(
        "clone", git_server.url("alice", "app", "alice", "nope"), str(work / "b"), check=False
    )
    assert bad.returncode != 0
    assert "Authentication failed" in bad.stderr
    # a token presented under someone else's name is refused
    _, bob_token = git_server.user("bob", roles=("developer",))
    other = git(
        "clone", git_server.url("alice", "app", "alice", bob_token), str(work / "o"), check=False
    )
    assert other.returncode != 0
    assert "Authentication failed" in other.stderr


def test_anonymous_clone_of_public_works_and_of_private_does_not(git_server: GitServer) -> None:
    alice = _owner(git_server)
    git_server.repo(alice, "pub", Visibility.PUBLIC)
    git_server.repo(alice, "priv")
    git_server.repo(alice, "inner", Visibility.INTERNAL)
    work = git_server.workdir()
    for name in ("pub", "priv", "inner"):
        git("clone", "-q", git_server.url("alice", name, "alice"), str(work / f"s-{name}"))
        commit(work / f"s-{name}", "f", name)
        git("push", "-q", "origin", "main", cwd=work / f"s-{name}")

    git("clone", "-q", git_server.url("alice", "pub"), str(work / "anon-pub"))
    assert (work / "anon-pub" / "f").read_text() == "pub"
    for name in ("priv", "inner", "missing"):
        proc = git("clone", git_server.url("alice", name), str(work / f"anon-{name}"), check=False)
        assert proc.returncode != 0
        assert "could not read Username" in proc.stderr or "Authentication failed" in proc.stderr
    # anonymous push even to a public project asks for credentials
    commit(work / "anon-pub", "g", "g")
    proc = git("push", "origin", "main", cwd=work / "anon-pub", check=False)
    assert proc.returncode != 0

    # a signed-in stranger: internal readable, private looks missing
    git_server.user("eve")
    git("clone", "-q", git_server.url("alice", "inner", "eve"), str(work / "eve-inner"))
    proc = git("clone", git_server.url("alice", "priv", "eve"), str(work / "eve-priv"), check=False)
    assert proc.returncode != 0
    assert "not found" in proc.stderr


def test_big_push_is_chunked_and_streams(git_server: GitServer) -> None:
    alice = _owner(git_server)
    git_server.repo(alice, "big")
    work = git_server.workdir()
    git("clone", "-q", git_server.url("alice", "big", "alice"), str(work / "a"))
    commit(work / "a", "blob.bin", os.urandom(3 * 1024 * 1024))
    git("push", "-q", "origin", "main", cwd=work / "a")  # > 1 MiB: chunked request
    git("clone", "-q", git_server.url("alice", "big", "alice"), str(work / "b"))
    assert (work / "b" / "blob.bin").read_bytes() == (work / "a" / "blob.bin").read_bytes()


def test_gzip_request_body_and_headers(git_server: GitServer) -> None:
    alice, token = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "app")
    work = git_server.workdir()
    git("clone", "-q", git_server.url("alice", "app", "alice"), str(work / "a"))
    head = commit(work / "a", "x", "x")
    git("push", "-q", "origin", "main", cwd=work / "a")
    auth = ("alice", token)
    base = git_server.url("alice", "app")
    refs = httpx.get(f"{base}/info/refs", params={"service": "git-upload-pack"}, auth=auth)
    assert refs.status_code == 200
    assert refs.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert "no-cache" in refs.headers["cache-control"]
    assert refs.content.startswith(b"001e# service=git-upload-pack\n0000")
    want = f"0032want {head}\n".encode() + b"00000009done\n"
    resp = httpx.post(
        f"{base}/git-upload-pack",
        content=gzip.compress(want),
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        auth=auth,
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-git-upload-pack-result"
    assert resp.content.startswith(b"0008NAK\n")
    assert b"PACK" in resp.content


@pytest.mark.git_cap(1)
def test_concurrency_cap_answers_503_with_retry_after(git_server: GitServer) -> None:
    alice, token = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "app")
    base = git_server.url("alice", "app")
    release = threading.Event()
    sent = threading.Event()

    def body() -> Any:
        yield b"0000"
        sent.set()
        release.wait(30)

    held: dict[str, int] = {}

    def hold() -> None:
        held["status"] = httpx.post(
            f"{base}/git-upload-pack", content=body(), auth=("alice", token), timeout=60
        ).status_code

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert sent.wait(30)
        deadline = time.monotonic() + 30
        while git_server.app.slots(git_server.platform).active < 1:
            assert time.monotonic() < deadline, "the held request never took its slot"
            time.sleep(0.01)
        busy = httpx.get(
            f"{base}/info/refs", params={"service": "git-upload-pack"}, auth=("alice", token)
        )
        assert busy.status_code == 503
        assert busy.headers["retry-after"].isdigit()
    finally:
        release.set()
        thread.join(60)
    assert held["status"] == 200
    ok = httpx.get(
        f"{base}/info/refs", params={"service": "git-upload-pack"}, auth=("alice", token)
    )
    assert ok.status_code == 200


def test_bad_names_and_unknown_paths_are_not_git(git_server: GitServer) -> None:
    assert httpx.get(f"{git_server.base}/a/..%2F..%2Fetc.git/info/refs").status_code == 404
    assert httpx.get(f"{git_server.base}/a/b.git/info/refs").status_code == 400
