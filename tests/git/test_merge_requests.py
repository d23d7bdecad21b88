"""Merge requests on real repositories: validations, reviews, each merge strategy, conflicts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import (
    AlreadyExists,
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_sdk.git import merge as gitmerge
from platform_sdk.git.models import MergeRequestState, MergeStrategy, ReviewVerdict
from platform_sdk.git.mr_schemas import (
    MergeBody,
    MergeRequestCreate,
    MergeRequestUpdate,
    ReviewCreate,
)
from platform_sdk.git.repos import git_env, init_bare, repo_path
from platform_sdk.git.services import merge_requests as svc
from platform_sdk.git.services import mr_discussion as disc
from platform_sdk.projects.issue_schemas import CommentCreate
from platform_sdk.projects.services.issues import edit_comment
from platform_sdk.sdk import Platform
from tests.plugins.platforms import People

REF = "owner/app"


class Work:
    """A working clone that pushes into the project's bare repository."""

    def __init__(self, root: Path, bare: Path) -> None:
        self.dir = root
        self.bare = bare
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=self.dir, env=git_env(), capture_output=True, check=True
        )
        return out.stdout.decode().strip()

    def commit(self, branch: str, files: dict[str, str], msg: str) -> str:
        self.git("checkout", "-q", "-B", branch) if branch not in self.branches() else self.git(
            "checkout", "-q", branch
        )
        for name, content in files.items():
            (self.dir / name).write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", msg)
        self.git("push", "-q", str(self.bare), branch)
        return self.git("rev-parse", "HEAD")

    def branch_from(self, base: str, branch: str) -> None:
        self.git("checkout", "-q", "-B", branch, base)

    def branches(self) -> list[str]:
        return self.git("branch", "--format=%(refname:short)").split()


def refs(bare: Path) -> str:
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "for-each-ref"], env=git_env(), capture_output=True
    )
    return out.stdout.decode()


def objects(bare: Path) -> set[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-list", "--all", "--objects"],
        env=git_env(),
        capture_output=True,
    )
    return set(out.stdout.decode().split())


@pytest.fixture
def setup(platform: Platform, people: People, tmp_path: Path) -> tuple[Actor, Actor, Work, Path]:
    owner = people.user("owner")
    pid = people.project(owner, "app")
    dev = people.user("dev", project_roles={pid: ("developer",)})
    rev = people.user("rev", project_roles={pid: ("developer",)})
    bare = repo_path(platform.settings, "owner", "app")
    init_bare(bare)
    (tmp_path / "work").mkdir()
    work = Work(tmp_path / "work", bare)
    work.commit("main", {"a.txt": "one\n", "b.txt": "b\n"}, "initial")
    work.branch_from("main", "feature")
    work.commit("feature", {"a.txt": "one\ntwo\n"}, "feature work")
    return dev, rev, work, bare


def _open(platform: Platform, actor: Actor, src: str = "feature", tgt: str = "main") -> Any:
    with platform.session() as db:
        body = MergeRequestCreate(source_branch=src, target_branch=tgt, title=f"{src} to {tgt}")
        return svc.create_merge_request(db, actor=actor, project=REF, body=body)


def _merge(platform: Platform, actor: Actor, number: int = 1, **kw: Any) -> Any:
    with platform.session() as db:
        return svc.merge_merge_request(
            db, actor=actor, project=REF, number=number, body=MergeBody(**kw)
        )


def test_create_validations_and_numbering(platform: Platform, setup: Any) -> None:
    dev, _, work, _ = setup
    mr = _open(platform, dev)
    assert (mr.number, mr.state, mr.author) == (1, MergeRequestState.OPEN, "dev")
    assert mr.source_sha == work.git("rev-parse", "feature")
    assert mr.target_sha == work.git("rev-parse", "main")
    with pytest.raises(AlreadyExists):
        _open(platform, dev)
    with pytest.raises(ValidationFailed, match="nope"):
        _open(platform, dev, src="nope")
    with pytest.raises(ValidationFailed, match="differ"):
        _open(platform, dev, src="main")
    work.branch_from("main", "other")
    work.commit("other", {"c.txt": "c\n"}, "other")
    assert _open(platform, dev, src="other").number == 2


def test_list_filters_update_and_permissions(
    platform: Platform, people: People, setup: Any
) -> None:
    dev, rev, work, _ = setup
    work.branch_from("main", "fix")
    work.commit("fix", {"c.txt": "c\n"}, "fix")
    _open(platform, dev)
    _open(platform, rev, src="fix")
    viewer = people.user("viewer", roles=("viewer",))
    stranger = people.user("stranger")
    with platform.session() as db:
        svc.close_merge_request(db, actor=dev, project=REF, number=1)

        def nums(**kw: Any) -> list[int]:
            page = svc.list_merge_requests(db, actor=viewer, project=REF, page=PageParams(), **kw)
            return [m.number for m in page.items]

        assert nums() == [2, 1]
        assert nums(state=MergeRequestState.OPEN) == [2]
        assert nums(author="dev") == [1]
        assert nums(target_branch="main") == [2, 1]
        assert nums(target_branch="dev") == []
        assert nums(search="FIX") == [2]
        upd = svc.update_merge_request(
            db, actor=dev, project=REF, number=2, body=MergeRequestUpdate(title="Fix it")
        )
        assert upd.title == "Fix it"
        assert upd.body == ""
        with pytest.raises(PermissionDenied):
            svc.update_merge_request(
                db, actor=viewer, project=REF, number=2, body=MergeRequestUpdate(title="x")
            )
        with pytest.raises(NotFound):
            svc.get_merge_request(db, actor=stranger, project=REF, number=2)
        with pytest.raises(IllegalTransition):
            svc.close_merge_request(db, actor=dev, project=REF, number=1)
        assert svc.reopen_merge_request(db, actor=dev, project=REF, number=1).state == "open"


def test_commits_and_diff(platform: Platform, setup: Any) -> None:
    dev, _, work, _ = setup
    _open(platform, dev)
    work.commit("main", {"b.txt": "b2\n"}, "main moves on")  # not part of the MR
    with platform.session() as db:
        commits = svc.list_mr_commits(db, actor=dev, project=REF, number=1)
        assert [c.title for c in commits] == ["feature work"]
        diff = svc.get_mr_diff(db, actor=dev, project=REF, number=1)
    assert [(f.path, f.status, f.additions, f.deletions) for f in diff.files] == [
        ("a.txt", "M", 1, 0)
    ]
    assert "+two" in diff.patch
    assert not diff.truncated


def test_reviews_and_comments(platform: Platform, setup: Any) -> None:
    dev, rev, work, _ = setup
    seen: list[dict[str, Any]] = []
    platform.runtime.subscribe("events.merge_request", lambda _db, p: seen.append(p))
    _open(platform, dev)
    with platform.session() as db:
        with pytest.raises(ValidationFailed, match="own"):
            disc.create_review(
                db,
                actor=dev,
                project=REF,
                number=1,
                body=ReviewCreate(verdict=ReviewVerdict.APPROVED),
            )
        disc.create_review(
            db,
            actor=dev,
            project=REF,
            number=1,
            body=ReviewCreate(verdict=ReviewVerdict.COMMENTED, body="self note"),
        )
        r = disc.create_review(
            db,
            actor=rev,
            project=REF,
            number=1,
            body=ReviewCreate(verdict=ReviewVerdict.CHANGES_REQUESTED, body="needs tests"),
        )
        assert r.commit_sha == work.git("rev-parse", "feature")
        assert r.reviewer == "rev"
        disc.create_review(
            db, actor=rev, project=REF, number=1, body=ReviewCreate(verdict=ReviewVerdict.APPROVED)
        )
        listed = disc.list_reviews(db, actor=dev, project=REF, number=1, page=PageParams())
        assert [x.verdict for x in listed.items] == ["commented", "changes_requested", "approved"]
        c = disc.create_mr_comment(
            db, actor=rev, project=REF, number=1, body=CommentCreate(body="lgtm")
        )
        assert c.merge_request_number == 1
        assert c.issue_number is None
        e = edit_comment(
            db, actor=rev, project=REF, comment_id=c.id, body=CommentCreate(body="LGTM")
        )
        assert e.body == "LGTM"
        assert e.merge_request_number == 1
        assert [
            x.body
            for x in disc.list_mr_comments(
                db, actor=dev, project=REF, number=1, page=PageParams()
            ).items
        ] == ["LGTM"]
    assert [e["action"] for e in seen] == [
        "opened",
        "reviewed",
        "reviewed",
        "reviewed",
        "commented",
    ]
    assert seen[2]["verdict"] == "changes_requested"


@pytest.mark.parametrize("strategy", list(MergeStrategy))
def test_merge_strategies(platform: Platform, setup: Any, strategy: MergeStrategy) -> None:
    dev, _, work, bare = setup
    seen: list[dict[str, Any]] = []
    platform.runtime.subscribe("events.merge_request", lambda _db, p: seen.append(p))
    main_before = work.git("rev-parse", "main")
    feature = work.git("rev-parse", "feature")
    if strategy != MergeStrategy.FAST_FORWARD:
        work.commit("main", {"b.txt": "b2\n"}, "main moves on")  # a true merge is needed
        main_before = work.git("rev-parse", "main")
    _open(platform, dev)
    out = _merge(platform, dev, strategy=strategy)
    assert out.state == MergeRequestState.MERGED
    assert out.merged_by == "dev"
    head = gitmerge.branch_sha(bare, "main")
    assert out.merge_commit_sha == head
    parents = (
        subprocess.run(
            ["git", "--git-dir", str(bare), "rev-list", "--parents", "-n1", head or ""],
            capture_output=True,
            env=git_env(),
            check=True,
        )
        .stdout.decode()
        .split()[1:]
    )
    if strategy == MergeStrategy.FAST_FORWARD:
        assert head == feature
    elif strategy == MergeStrategy.MERGE:
        assert parents == [main_before, feature]
    else:
        assert parents == [main_before]
    tree = subprocess.run(
        ["git", "--git-dir", str(bare), "show", f"{head}:a.txt"], capture_output=True, env=git_env()
    ).stdout.decode()
    assert tree == "one\ntwo\n"
    assert seen[-1]["action"] == "merged"
    assert seen[-1]["merge_commit"] == head
    with pytest.raises(IllegalTransition):
        _merge(platform, dev)
    with platform.session() as db, pytest.raises(IllegalTransition):
        svc.reopen_merge_request(db, actor=dev, project=REF, number=1)


def test_conflicting_merge_fails_cleanly_and_leaves_the_repository_unchanged(
    platform: Platform, setup: Any
) -> None:
    dev, _, work, bare = setup
    work.commit("main", {"a.txt": "one\nTHREE\n"}, "conflicting change")
    _open(platform, dev)
    before_refs, before_objects = refs(bare), objects(bare)
    for strategy in (MergeStrategy.MERGE, MergeStrategy.SQUASH):
        with pytest.raises(Conflict, match=r"a\.txt") as info:
            _merge(platform, dev, strategy=strategy)
        assert info.value.details["conflicts"] == ["a.txt"]
    with pytest.raises(Conflict, match="fast-forward"):
        _merge(platform, dev, strategy=MergeStrategy.FAST_FORWARD)
    assert refs(bare) == before_refs
    assert objects(bare) == before_objects
    with platform.session() as db:
        assert svc.get_merge_request(db, actor=dev, project=REF, number=1).state == "open"


def test_target_moved_is_refused(platform: Platform, setup: Any) -> None:
    dev, _, work, bare = setup
    mr = _open(platform, dev)
    work.commit("main", {"b.txt": "moved\n"}, "someone pushed")
    before = refs(bare)
    with pytest.raises(Conflict, match="moved"):
        _merge(platform, dev, expected_target_sha=mr.target_sha)
    assert refs(bare) == before
    # the compare-and-swap itself: a stale old value makes update-ref refuse
    with pytest.raises(Conflict, match="moved"):
        gitmerge._move_ref(bare, "main", mr.source_sha, mr.target_sha, "test")
    assert refs(bare) == before


def test_merge_needs_write(platform: Platform, people: People, setup: Any) -> None:
    dev, _, _, _ = setup
    _open(platform, dev)
    viewer = people.user("viewer", roles=("viewer",))
    with pytest.raises(PermissionDenied):
        _merge(platform, viewer)


# -- HTTP, SDK and CLI over the same services --------------------------------------------
def test_http_status_codes(platform: Platform, people: People, setup: Any) -> None:
    from fastapi.testclient import TestClient

    from platform_sdk.git import mr_routes
    from platform_sdk.server.app import create_app

    dev, rev, work, _ = setup
    work.commit("main", {"a.txt": "one\nTHREE\n"}, "conflicting change")
    app = create_app(platform)
    if not any(getattr(r, "path", "").endswith("/merge_requests") for r in app.routes):
        app.include_router(mr_routes.router)  # until the lead mounts it in routers.py
    base = "/api/projects/owner/app/merge_requests"
    with TestClient(app) as c:
        h = people.auth(people.token(dev))
        rh = people.auth(people.token(rev))
        vh = people.auth(people.token(people.user("viewer", roles=("viewer",))))
        sh = people.auth(people.token(people.user("stranger")))
        body = {"source_branch": "feature", "target_branch": "main", "title": "Feature"}
        r = c.post(base, json=body, headers=h)
        assert r.status_code == 201, r.text
        assert c.post(base, json=body, headers=h).status_code == 409
        assert c.post(base, json=body, headers=vh).status_code == 403
        assert c.get(base, headers=sh).status_code == 404
        assert c.post(base, json={**body, "source_branch": "x y"}, headers=h).status_code == 422
        assert c.get(f"{base}/1", headers=vh).json()["source_branch"] == "feature"
        assert [x["title"] for x in c.get(f"{base}/1/commits", headers=vh).json()] == [
            "feature work"
        ]
        assert c.get(f"{base}/1/diff", headers=vh).json()["files"][0]["path"] == "a.txt"
        r = c.post(f"{base}/1/reviews", json={"verdict": "approved"}, headers=h)
        assert r.status_code == 422
        r = c.post(f"{base}/1/reviews", json={"verdict": "approved", "body": "ok"}, headers=rh)
        assert r.status_code == 201
        assert c.get(f"{base}/1/reviews", headers=vh).json()["total"] == 1
        assert c.post(f"{base}/1/comments", json={"body": "hm"}, headers=rh).status_code == 201
        assert c.get(f"{base}/1/comments", headers=vh).json()["items"][0]["body"] == "hm"
        r = c.post(f"{base}/1/merge", json={"strategy": "merge"}, headers=h)
        assert r.status_code == 409
        assert "a.txt" in r.json()["error"]["message"]
        assert r.json()["error"]["details"]["conflicts"] == ["a.txt"]
        assert c.patch(f"{base}/1", json={"title": "F"}, headers=h).json()["title"] == "F"
        assert c.post(f"{base}/1/close", headers=h).json()["state"] == "closed"
        r = c.post(f"{base}/1/merge", json={}, headers=h)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "illegal_transition"
        assert c.post(f"{base}/1/reopen", headers=h).json()["state"] == "open"


def test_sdk_happy_path(platform: Platform, setup: Any) -> None:
    from platform_sdk.git.mr_sdk import MergeRequestManager

    _, _, _work, bare = setup
    mrs = MergeRequestManager(platform, REF)
    m = mrs.create("feature", "main", title="Feature")
    assert [c.title for c in m.commits()] == ["feature work"]
    assert "+two" in m.diff().patch
    m.reviews.create("commented", "looks fine")
    m.comments.create("thanks").edit("thanks!")
    assert [c.body for c in m.comments.list()] == ["thanks!"]
    assert [r.verdict for r in m.reviews.list()] == ["commented"]
    merged = m.merge(strategy="squash")
    assert merged.state == "merged"
    assert merged.merge_commit_sha == gitmerge.branch_sha(bare, "main")
    assert [x.number for x in mrs.list(state="merged")] == [1]
    assert "owner/app!1" in repr(merged)


def test_cli_happy_path(platform: Platform, setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import click
    from click.testing import CliRunner

    from platform_sdk.clikit import PlatformGroup
    from platform_sdk.git.mr_cli import mr

    _, _, work, _bare = setup
    monkeypatch.setenv("DATABASE_URL", platform.settings.resolved_database_url)

    @click.group(cls=PlatformGroup)
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = {"data_dir": str(platform.settings.data_dir), "as_user": None}

    root.add_command(mr)

    def run(*args: str) -> Any:
        result = CliRunner().invoke(root, ["mr", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    made = run("create", REF, "feature", "main", "--title", "Feature", "--json")
    assert made["number"] == 1
    assert "+two" in run("diff", REF, "1")
    assert run("review", REF, "1", "--comment", "--body", "ok", "--json")["verdict"] == "commented"
    shown = run("show", REF, "1", "--json")
    assert shown["commits"][0]["title"] == "feature work"
    assert len(shown["reviews"]) == 1
    assert "Feature" in run("list", REF)
    merged = run("merge", REF, "1", "--strategy", "fast_forward", "--json")
    assert merged["state"] == "merged"
    assert merged["merge_commit_sha"] == work.git("rev-parse", "feature")
    result = CliRunner().invoke(root, ["mr", "close", REF, "1"])
    assert result.exit_code == 1
    assert "illegal_transition" in result.stderr


def test_a_merge_is_recorded_as_a_push_of_the_target_branch(platform: Platform, setup: Any) -> None:
    """Pipelines and push webhooks see merges the way they see pushes."""
    from sqlalchemy import select

    from platform_sdk.git.models import Push

    dev, _, _, _ = setup
    seen: list[dict[str, Any]] = []
    platform.runtime.subscribe("events.push", lambda _db, payload: seen.append(payload))
    _open(platform, dev)
    merged = _merge(platform, dev)
    with platform.session() as db:
        push = db.scalars(select(Push).where(Push.ref == "refs/heads/main")).one()
    assert push.after == merged.merge_commit_sha
    assert push.pusher_id == dev.user_id
    assert [p["after"] for p in seen] == [merged.merge_commit_sha]
