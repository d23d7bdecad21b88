"""The repository browser through services, HTTP and the SDK, over a real pushed history."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import NotFound, PayloadTooLarge, ValidationFailed
from platform_sdk.git import browse as plumbing
from platform_sdk.git import routes as git_routes
from platform_sdk.git.services import browse
from platform_sdk.projects.models import Visibility
from platform_sdk.projects.schemas import ProjectCreate, ProjectUpdate
from platform_sdk.projects.services import projects as project_service
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.git.fixtures import BIG, LOGO, Built, build
from tests.plugins.platforms import People


@pytest.fixture
def dev(people: People) -> Actor:
    return people.user("dev", roles=("developer",))


@pytest.fixture
def built(platform: Platform, dev: Actor, tmp_path: Path) -> Built:
    return build(platform, dev, tmp_path / "work")


def test_branches_and_tags(platform: Platform, dev: Actor, built: Built) -> None:
    with platform.session() as db:
        branches = browse.list_branches(db, actor=dev, project=built.full_name)
        tags = browse.list_tags(db, actor=dev, project=built.full_name)
    assert [(b.name, b.sha, b.is_default) for b in branches] == [
        ("feature", built.shas["f1"], False),
        ("main", built.shas["c4"], True),
    ]
    assert branches[1].committed_at is not None
    assert branches[1].committed_at.day == 4
    assert [(t.name, t.sha, t.annotated, t.message) for t in tags] == [
        ("v1", built.shas["c2"], True, "release one"),
        ("light", built.shas["c1"], False, ""),
    ]


def test_log_is_paged_and_filtered_by_path(platform: Platform, dev: Actor, built: Built) -> None:
    with platform.session() as db:
        first = browse.log(db, actor=dev, project=built.full_name, page=PageParams(per_page=3))
        second = browse.log(
            db, actor=dev, project=built.full_name, page=PageParams(page=2, per_page=3)
        )
        src = browse.log(db, actor=dev, project=built.full_name, page=PageParams(), path="src/")
        feature = browse.log(
            db, actor=dev, project=built.full_name, page=PageParams(), ref="feature"
        )
    assert (first.total, first.next_page) == (4, 2)
    assert [c.sha for c in first.items] == [built.shas[k] for k in ("c4", "c3", "c2")]
    assert [c.sha for c in second.items] == [built.shas["c1"]]
    assert second.next_page is None
    root = second.items[0]
    assert (root.subject, root.body, root.parents) == ("first commit", "with a body", [])
    assert first.items[0].parents == [built.shas["c3"]]
    assert [c.subject for c in src.items] == ["rename main", "first commit"]
    assert [c.subject for c in feature.items][:2] == ["feature work", "add logo"]


def test_a_commit_with_its_diff(platform: Platform, dev: Actor, built: Built) -> None:
    with platform.session() as db:
        root = browse.get_commit(db, actor=dev, project=built.full_name, sha=built.shas["c1"])
        logo = browse.get_commit(db, actor=dev, project=built.full_name, sha=built.shas["c2"])
        moved = browse.get_commit(db, actor=dev, project=built.full_name, sha="main")
        with pytest.raises(NotFound):
            browse.get_commit(db, actor=dev, project=built.full_name, sha="0" * 40)
    assert moved.sha == built.shas["c4"]  # "main" resolves like any ref
    assert {f.path: f.status for f in root.files} == {
        "README.md": "added",
        "src/app/main.py": "added",
    }
    readme, png = logo.files
    assert (readme.status, readme.additions, readme.deletions, readme.binary) == (
        "modified",
        1,
        0,
        False,
    )
    assert "+world" in readme.patch
    assert readme.patch.startswith("diff --git a/README.md")
    assert (png.path, png.status, png.binary, png.patch) == ("logo.png", "added", True, "")
    with platform.session() as db:
        renamed = browse.get_commit(db, actor=dev, project=built.full_name, sha=built.shas["c3"])
    (entry,) = renamed.files
    assert (entry.path, entry.old_path, entry.status) == (
        "src/app/entry.py",
        "src/app/main.py",
        "renamed",
    )


def test_tree_at_a_ref_and_path(platform: Platform, dev: Actor, built: Built) -> None:
    with platform.session() as db:
        root = browse.get_tree(db, actor=dev, project=built.full_name)
        nested = browse.get_tree(db, actor=dev, project=built.full_name, ref="v1", path="src/app")
        for path in ("README.md", "nope", "src/nope"):
            with pytest.raises(NotFound):
                browse.get_tree(db, actor=dev, project=built.full_name, path=path)
    assert [(e.name, e.type) for e in root] == [
        ("src", "tree"),
        ("README.md", "blob"),
        ("big.txt", "blob"),
        ("logo.png", "blob"),
    ]
    assert root[0].size is None
    assert root[1].size == len("hello\nworld\n")
    assert [(e.path, e.mode) for e in nested] == [("src/app/main.py", "100644")]


def test_reading_files_text_binary_and_too_large(
    platform: Platform, dev: Actor, built: Built
) -> None:
    with platform.session() as db:
        readme = browse.read_file(db, actor=dev, project=built.full_name, path="./README.md")
        old = browse.read_file(
            db, actor=dev, project=built.full_name, path="README.md", ref="light"
        )
        logo = browse.read_file(db, actor=dev, project=built.full_name, path="logo.png")
        with pytest.raises(PayloadTooLarge):
            browse.read_file(db, actor=dev, project=built.full_name, path="big.txt")
        with pytest.raises(PayloadTooLarge):
            browse.read_file(db, actor=dev, project=built.full_name, path="README.md", limit=4)
        for path in ("src", "missing.txt", "/"):
            with pytest.raises(NotFound):
                browse.read_file(db, actor=dev, project=built.full_name, path=path)
    assert (readme.content, readme.is_binary, readme.encoding) == ("hello\nworld\n", False, "utf-8")
    assert old.content == "hello\n"
    assert (logo.is_binary, logo.encoding, logo.size) == (True, "base64", len(LOGO))
    assert logo.raw() == LOGO
    assert base64.b64decode(logo.content) == LOGO


def test_compare_two_refs(platform: Platform, dev: Actor, built: Built) -> None:
    with platform.session() as db:
        out = browse.compare(db, actor=dev, project=built.full_name, base="main", head="feature")
        same = browse.compare(db, actor=dev, project=built.full_name, base="v1", head="v1")
    assert (out.ahead_by, out.behind_by, out.merge_base) == (1, 2, built.shas["c2"])
    assert [c.sha for c in out.commits] == [built.shas["f1"]]
    assert [(f.path, f.status) for f in out.files] == [("feature.txt", "added")]
    assert (same.ahead_by, same.behind_by, same.files, same.commits) == (0, 0, [], [])


def _app(platform: Platform) -> FastAPI:
    """The server app, with the browser's router mounted if the lead has not wired it yet."""
    app = create_app(platform)
    if not any(getattr(r, "path", "").endswith("/branches") for r in app.routes):
        app.include_router(git_routes.router)
    return app


HOSTILE_REFS = [
    "--upload-pack=touch /tmp/pwned",
    "-x",
    "../../etc",
    "main..feature",
    "a b",
    "@{-1}",
]


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_hostile_refs_are_refused_before_git_runs(
    platform: Platform, dev: Actor, built: Built, ref: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_git(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"git ran with {args}")

    monkeypatch.setattr(plumbing, "run_git", no_git)
    with platform.session() as db:
        calls: list[Callable[[], object]] = [
            lambda: browse.log(db, actor=dev, project=built.full_name, page=PageParams(), ref=ref),
            lambda: browse.get_tree(db, actor=dev, project=built.full_name, ref=ref),
            lambda: browse.read_file(db, actor=dev, project=built.full_name, path="x", ref=ref),
            lambda: browse.get_commit(db, actor=dev, project=built.full_name, sha=ref),
            lambda: browse.compare(db, actor=dev, project=built.full_name, base=ref, head="main"),
        ]
        for fn in calls:
            with pytest.raises(ValidationFailed):
                fn()


@pytest.mark.parametrize("path", ["../secret", "src/../../x", "a/\x00b"])
def test_hostile_paths_are_refused(platform: Platform, dev: Actor, built: Built, path: str) -> None:
    with platform.session() as db:
        with pytest.raises(ValidationFailed):
            browse.read_file(db, actor=dev, project=built.full_name, path=path)
        with pytest.raises(ValidationFailed):
            browse.get_tree(db, actor=dev, project=built.full_name, path=path)


def test_an_empty_repository_answers_empty_lists(platform: Platform, dev: Actor) -> None:
    with platform.session() as db:
        full = project_service.create_project(
            db, actor=dev, body=ProjectCreate(name="empty")
        ).full_name
        assert browse.list_branches(db, actor=dev, project=full) == []
        assert browse.list_tags(db, actor=dev, project=full) == []
        assert browse.get_tree(db, actor=dev, project=full) == []
        page = browse.log(db, actor=dev, project=full, page=PageParams())
        assert (page.items, page.total, page.next_page) == ([], 0, None)
        with pytest.raises(NotFound):
            browse.read_file(db, actor=dev, project=full, path="README.md")


def test_invisible_projects_are_not_found(platform: Platform, people: People, built: Built) -> None:
    stranger = people.user("stranger")
    with platform.session() as db:
        with pytest.raises(NotFound):
            browse.list_branches(db, actor=stranger, project=built.full_name)
        with pytest.raises(NotFound):
            browse.read_file(db, actor=stranger, project=built.full_name, path="README.md")


def test_http_browser(platform: Platform, people: People, dev: Actor, built: Built) -> None:
    base = f"/api/projects/{built.full_name}"
    h = people.auth(people.token(dev))
    nobody = people.auth(people.token(people.user("nobody")))
    with TestClient(_app(platform)) as c:
        assert [b["name"] for b in c.get(f"{base}/branches", headers=h).json()] == [
            "feature",
            "main",
        ]
        assert [t["name"] for t in c.get(f"{base}/tags", headers=h).json()] == ["v1", "light"]
        page = c.get(f"{base}/commits", params={"per_page": 2}, headers=h).json()
        assert (page["total"], page["next_page"], len(page["items"])) == (4, 2, 2)
        page = c.get(f"{base}/commits", params={"ref": "feature", "path": "feature.txt"}, headers=h)
        assert [i["subject"] for i in page.json()["items"]] == ["feature work"]
        detail = c.get(f"{base}/commits/{built.shas['c2']}", headers=h).json()
        assert [f["path"] for f in detail["files"]] == ["README.md", "logo.png"]
        tree = c.get(f"{base}/tree", params={"path": "src"}, headers=h).json()
        assert [e["path"] for e in tree] == ["src/app"]
        text = c.get(f"{base}/files", params={"path": "README.md"}, headers=h).json()
        assert text["content"] == "hello\nworld\n"
        raw = c.get(f"{base}/files", params={"path": "logo.png", "raw": "true"}, headers=h)
        assert raw.headers["content-type"] == "application/octet-stream"
        assert raw.content == LOGO
        r = c.get(f"{base}/files", params={"path": "big.txt"}, headers=h)
        assert r.status_code == 413
        assert r.json()["error"]["details"]["size"] == len(BIG)
        cmp = c.get(f"{base}/compare", params={"base": "main", "head": "feature"}, headers=h)
        assert cmp.json()["ahead_by"] == 1
        for params in ({"ref": "--upload-pack=x"}, {"ref": "-x"}, {"path": "../x"}):
            assert c.get(f"{base}/tree", params=params, headers=h).status_code == 422
        assert c.get(f"{base}/commits/--output=x", headers=h).status_code == 422
        assert c.get(f"{base}/tree", params={"ref": "nope"}, headers=h).status_code == 404
        assert c.get(f"{base}/branches", headers=nobody).status_code == 404
        assert c.get(f"{base}/branches").status_code == 401
        assert c.get("/api/projects/dev/nope/branches", headers=h).status_code == 404


def test_public_projects_are_browsable_by_anyone_signed_in(
    platform: Platform, people: People, dev: Actor, built: Built
) -> None:
    with platform.session() as db:
        project_service.update_project(
            db,
            actor=dev,
            ref=built.full_name,
            body=ProjectUpdate(visibility=Visibility.PUBLIC),
        )
    nobody = people.auth(people.token(people.user("nobody")))
    with TestClient(_app(platform)) as c:
        r = c.get(f"/api/projects/{built.full_name}/files?path=README.md", headers=nobody)
        assert r.status_code == 200


def test_sdk_repository(platform: Platform, built: Built) -> None:
    repo = platform.projects.get(built.full_name).repo
    assert repr(repo) == f"<Repository {built.full_name}>"
    assert repo.clone_url.endswith(f"/{built.full_name}.git")
    assert [b.name for b in repo.branches] == ["feature", "main"]
    assert [t.name for t in repo.tags] == ["v1", "light"]
    assert repo.read("README.md") == "hello\nworld\n"
    assert repo.read("logo.png") == LOGO
    assert [e.name for e in repo.tree(path="src")] == ["app"]
    history = repo.log()
    assert history.total == 4
    assert [c.subject for c in history] == ["big file", "rename main", "add logo", "first commit"]
    first = next(iter(repo.log(path="src/app/main.py")))
    assert first.subject == "rename main"  # the newest commit touching that path
    assert first.detail().files[0].old_path == "src/app/main.py"
    assert repo.commit(built.shas["c3"]).files[0].status == "renamed"
    assert repo.compare("main", "feature").behind_by == 2
    assert repo.diff("feature", "main").ahead_by == 2
