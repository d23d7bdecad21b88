"""``/api/projects/{owner}/{name}/…``: the repository browser over HTTP (read-only).

Thin: parse, one call into :mod:`platform_sdk.git.services.browse`, return its schema. Refs and
paths travel as query parameters (``?ref=&path=``), so slashes in branch names and file paths
need no escaping; hostile values are refused by the service layer with 422 before git runs.
``/files?raw=true`` answers the bytes as ``application/octet-stream``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from platform_sdk.core.pagination import Page
from platform_sdk.git.push_schemas import PushOut
from platform_sdk.git.schemas import (
    BranchOut,
    CommitDetailOut,
    CommitOut,
    CompareOut,
    FileOut,
    TagOut,
    TreeEntryOut,
)
from platform_sdk.git.services import browse, pushes
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{owner}/{name}", tags=["repository"])

Ref = Annotated[str | None, Query(max_length=255, description="Branch, tag or SHA")]
RepoPath = Annotated[str | None, Query(max_length=4096, description="Path in the repository")]


@router.get("/branches", summary="Branches of the project's repository")
def list_branches(plat: PlatformDep, actor: ActorDep, owner: str, name: str) -> list[BranchOut]:
    return call(plat, browse.list_branches, actor=actor, project=f"{owner}/{name}")


@router.get("/tags", summary="Tags, newest first")
def list_tags(plat: PlatformDep, actor: ActorDep, owner: str, name: str) -> list[TagOut]:
    return call(plat, browse.list_tags, actor=actor, project=f"{owner}/{name}")


@router.get("/pushes", summary="Recorded ref updates (the push log), newest first, paged")
def list_pushes(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, page: PageDep
) -> Page[PushOut]:
    return call(plat, pushes.list_pushes, actor=actor, project=f"{owner}/{name}", page=page)


@router.get("/commits", summary="Commit log of a ref, newest first, paged")
def log(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    page: PageDep,
    ref: Ref = None,
    path: RepoPath = None,
) -> Page[CommitOut]:
    return call(
        plat, browse.log, actor=actor, project=f"{owner}/{name}", page=page, ref=ref, path=path
    )


@router.get("/commits/{sha}", summary="One commit with its diff")
def get_commit(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, sha: str
) -> CommitDetailOut:
    return call(plat, browse.get_commit, actor=actor, project=f"{owner}/{name}", sha=sha)


@router.get("/tree", summary="Entries of a directory at a ref")
def get_tree(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    ref: Ref = None,
    path: RepoPath = None,
) -> list[TreeEntryOut]:
    return call(plat, browse.get_tree, actor=actor, project=f"{owner}/{name}", ref=ref, path=path)


@router.get(
    "/files",
    summary="A file at a ref: JSON (text or base64), or its bytes with raw=true",
    response_model=FileOut,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def read_file(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    path: Annotated[str, Query(min_length=1, max_length=4096)],
    ref: Ref = None,
    raw: bool = False,
) -> FileOut | Response:
    out = call(plat, browse.read_file, actor=actor, project=f"{owner}/{name}", path=path, ref=ref)
    if raw:
        return Response(out.raw(), media_type="application/octet-stream")
    return out


@router.get("/compare", summary="Commits and diff between two refs")
def compare(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    base: Annotated[str, Query(min_length=1, max_length=255)],
    head: Annotated[str, Query(min_length=1, max_length=255)],
) -> CompareOut:
    return call(plat, browse.compare, actor=actor, project=f"{owner}/{name}", base=base, head=head)
