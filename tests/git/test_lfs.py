"""Git LFS: the real git-lfs client when installed, and the batch API exactly as it speaks it."""

from __future__ import annotations

import hashlib
import os
import shutil

import httpx
import pytest
from sqlalchemy import select

from platform_sdk.git.models import LfsObject
from platform_sdk.projects.models import Visibility
from tests.git.conftest import GitServer, commit, git


def lfs_key(project_id: object, oid: str) -> str:
    """The documented object-store layout of LFS objects."""
    return f"lfs/{project_id}/{oid[:2]}/{oid}"


LFS = "application/vnd.git-lfs+json"


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs not installed")
def test_git_lfs_push_and_clone(git_server: GitServer) -> None:
    alice, _ = git_server.user("alice", roles=("developer",))
    project_id = git_server.repo(alice, "media")
    work = git_server.workdir()
    url = git_server.url("alice", "media", "alice")
    git("clone", "-q", url, str(work / "a"))
    a = work / "a"
    git("lfs", "install", "--local", cwd=a)
    git("lfs", "track", "*.bin", cwd=a)
    git("add", ".gitattributes", cwd=a)
    data = os.urandom(2 * 1024 * 1024)
    commit(a, "big.bin", data)
    git("push", "-q", "origin", "main", cwd=a)

    oid = hashlib.sha256(data).hexdigest()
    with git_server.platform.session() as db:
        row = db.get(LfsObject, (project_id, oid))
        assert row is not None
        assert row.size == len(data)
    assert git_server.platform.blobs.get(lfs_key(project_id, oid)) == data

    env_dest = work / "b"
    git(
        "-c",
        "filter.lfs.smudge=git-lfs smudge -- %f",
        "-c",
        "filter.lfs.process=git-lfs filter-process",
        "-c",
        "filter.lfs.required=true",
        "clone",
        "-q",
        url,
        str(env_dest),
    )
    assert (env_dest / "big.bin").read_bytes() == data


def test_batch_upload_download_and_refusals(git_server: GitServer) -> None:
    alice, token = git_server.user("alice", roles=("developer",))
    project_id = git_server.repo(alice, "media", Visibility.PUBLIC)
    _, viewer_token = git_server.user("victor", project_roles={project_id: ("viewer",)})
    base = git_server.url("alice", "media")
    headers = {"Accept": LFS, "Content-Type": LFS}
    data = b"large file content\n" * 1000
    oid = hashlib.sha256(data).hexdigest()
    obj = {"oid": oid, "size": len(data)}

    def batch(op: str, auth: tuple[str, str] | None) -> httpx.Response:
        return httpx.post(
            f"{base}/info/lfs/objects/batch",
            json={"operation": op, "transfers": ["basic"], "objects": [obj]},
            headers=headers,
            auth=auth,
        )

    assert batch("upload", None).status_code == 401  # anonymous may not upload
    refused = batch("upload", ("victor", viewer_token))
    assert refused.status_code == 403
    assert "lacks project:write" in refused.json()["message"]
    up = batch("upload", ("alice", token))
    assert up.status_code == 200
    assert up.headers["content-type"] == LFS
    action = up.json()["objects"][0]["actions"]["upload"]
    assert action["href"] == f"{base}/info/lfs/objects/{oid}"

    # a body that is not what the oid says is refused and nothing is stored
    bad = httpx.put(action["href"], content=data + b"x", headers=action["header"])
    assert bad.status_code == 422
    assert not git_server.platform.blobs.exists(lfs_key(project_id, oid))
    # the real upload (no stored credentials needed: the action carries the header)
    assert httpx.put(action["href"], content=data, headers=action["header"]).status_code == 200
    assert "actions" not in batch("upload", ("alice", token)).json()["objects"][0]

    down = batch("download", None).json()["objects"][0]  # public: anonymous download
    got = httpx.get(down["actions"]["download"]["href"])
    assert got.status_code == 200
    assert got.content == data
    with git_server.platform.session() as db:
        assert db.scalars(select(LfsObject)).all()[0].size == len(data)

    missing = dict(obj, oid="0" * 64)
    resp = httpx.post(
        f"{base}/info/lfs/objects/batch",
        json={"operation": "download", "objects": [missing, {"oid": "../x", "size": 1}]},
        headers=headers,
    ).json()["objects"]
    assert resp[0]["error"]["code"] == 404
    assert resp[1]["error"]["code"] == 422


def test_lfs_on_a_private_project_is_hidden(git_server: GitServer) -> None:
    alice, token = git_server.user("alice", roles=("developer",))
    git_server.repo(alice, "secret")
    _, eve_token = git_server.user("eve")
    url = f"{git_server.url('alice', 'secret')}/info/lfs/objects/batch"
    body = {"operation": "download", "objects": [{"oid": "a" * 64, "size": 1}]}
    anon = httpx.post(url, json=body, headers={"Accept": LFS})
    assert anon.status_code == 401
    assert "LFS-Authenticate" in anon.headers
    assert httpx.post(url, json=body, auth=("eve", eve_token)).status_code == 404
    assert httpx.post(url, json=body, auth=("alice", token)).status_code == 200
