"""``/api/projects/{owner}/{name}/merge_requests``: merge requests over HTTP.

Thin: each route calls one function of :mod:`platform_sdk.git.services.merge_requests` or
:mod:`platform_sdk.git.services.mr_discussion` and returns its schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from platform_sdk.core.pagination import Page
from platform_sdk.git.mr_schemas import (
    MergeBody,
    MergeRequestCreate,
    MergeRequestOut,
    MergeRequestState,
    MergeRequestUpdate,
    MrCommitOut,
    MrDiffOut,
    ReviewCreate,
    ReviewOut,
)
from platform_sdk.git.services import merge_requests as svc
from platform_sdk.git.services import mr_discussion as disc
from platform_sdk.projects.issue_schemas import CommentCreate, CommentOut
from platform_sdk.server.deps import ActorDep, Number, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{owner}/{name}/merge_requests", tags=["merge requests"])


@router.get("", summary="Merge requests of a project, newest first")
def list_merge_requests(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    owner: str,
    name: str,
    state: MergeRequestState | None = None,
    author: Annotated[str | None, Query(max_length=64)] = None,
    target_branch: Annotated[str | None, Query(max_length=255)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in title/body")] = None,
) -> Page[MergeRequestOut]:
    return call(
        plat,
        svc.list_merge_requests,
        actor=actor,
        project=f"{owner}/{name}",
        page=page,
        state=state,
        author=author,
        target_branch=target_branch,
        search=q,
    )


@router.post("", status_code=201, summary="Open a merge request")
def create_merge_request(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, body: MergeRequestCreate
) -> MergeRequestOut:
    return call(plat, svc.create_merge_request, actor=actor, project=f"{owner}/{name}", body=body)


@router.get("/{number}", summary="One merge request")
def get_merge_request(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> MergeRequestOut:
    return call(plat, svc.get_merge_request, actor=actor, project=f"{owner}/{name}", number=number)


@router.patch("/{number}", summary="Change title or body")
def update_merge_request(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    number: Number,
    body: MergeRequestUpdate,
) -> MergeRequestOut:
    return call(
        plat,
        svc.update_merge_request,
        actor=actor,
        project=f"{owner}/{name}",
        number=number,
        body=body,
    )


@router.get("/{number}/commits", summary="Commits the merge request brings, newest first")
def list_commits(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> list[MrCommitOut]:
    return call(plat, svc.list_mr_commits, actor=actor, project=f"{owner}/{name}", number=number)


@router.get("/{number}/diff", summary="Changes since the source forked from the target")
def get_diff(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> MrDiffOut:
    return call(plat, svc.get_mr_diff, actor=actor, project=f"{owner}/{name}", number=number)


@router.get("/{number}/reviews", summary="Reviews, oldest first")
def list_reviews(
    plat: PlatformDep, actor: ActorDep, page: PageDep, owner: str, name: str, number: Number
) -> Page[ReviewOut]:
    return call(
        plat, disc.list_reviews, actor=actor, project=f"{owner}/{name}", number=number, page=page
    )


@router.post("/{number}/reviews", status_code=201, summary="Approve, request changes or comment")
def create_review(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number, body: ReviewCreate
) -> ReviewOut:
    return call(
        plat, disc.create_review, actor=actor, project=f"{owner}/{name}", number=number, body=body
    )


@router.get("/{number}/comments", summary="Comments, oldest first")
def list_comments(
    plat: PlatformDep, actor: ActorDep, page: PageDep, owner: str, name: str, number: Number
) -> Page[CommentOut]:
    return call(
        plat,
        disc.list_mr_comments,
        actor=actor,
        project=f"{owner}/{name}",
        number=number,
        page=page,
    )


@router.post("/{number}/comments", status_code=201, summary="Comment on a merge request")
def create_comment(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number, body: CommentCreate
) -> CommentOut:
    return call(
        plat,
        disc.create_mr_comment,
        actor=actor,
        project=f"{owner}/{name}",
        number=number,
        body=body,
    )


@router.post("/{number}/merge", summary="Merge on the server (merge, fast_forward or squash)")
def merge(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number, body: MergeBody
) -> MergeRequestOut:
    return call(
        plat,
        svc.merge_merge_request,
        actor=actor,
        project=f"{owner}/{name}",
        number=number,
        body=body,
    )


@router.post("/{number}/close", summary="Close without merging")
def close(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> MergeRequestOut:
    return call(
        plat, svc.close_merge_request, actor=actor, project=f"{owner}/{name}", number=number
    )


@router.post("/{number}/reopen", summary="Reopen a closed merge request")
def reopen(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> MergeRequestOut:
    return call(
        plat, svc.reopen_merge_request, actor=actor, project=f"{owner}/{name}", number=number
    )
