"""``/api/projects/{owner}/{name}/issues``: issues and their comments over HTTP.

Thin, like every route: parse, call one service in :mod:`platform_sdk.projects.services.issues`,
return its schema. ``PATCH /comments/{id}`` edits any comment of the project, on an issue or a
merge request.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from platform_sdk.core.pagination import Page
from platform_sdk.projects.issue_schemas import (
    CommentCreate,
    CommentOut,
    IssueCreate,
    IssueOut,
    IssueState,
    IssueUpdate,
)
from platform_sdk.projects.services import issues as svc
from platform_sdk.server.deps import ActorDep, Number, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{owner}/{name}", tags=["issues"])


@router.get("/issues", summary="Issues of a project, newest first")
def list_issues(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    owner: str,
    name: str,
    state: IssueState | None = None,
    label: Annotated[str | None, Query(max_length=50)] = None,
    assignee: Annotated[str | None, Query(max_length=64, description="username or 'none'")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in title/body")] = None,
) -> Page[IssueOut]:
    return call(
        plat,
        svc.list_issues,
        actor=actor,
        project=f"{owner}/{name}",
        page=page,
        state=state,
        label=label,
        assignee=assignee,
        search=q,
    )


@router.post("/issues", status_code=201, summary="Open an issue")
def create_issue(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, body: IssueCreate
) -> IssueOut:
    return call(plat, svc.create_issue, actor=actor, project=f"{owner}/{name}", body=body)


@router.get("/issues/{number}", summary="One issue")
def get_issue(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> IssueOut:
    return call(plat, svc.get_issue, actor=actor, project=f"{owner}/{name}", number=number)


@router.patch("/issues/{number}", summary="Change title, body, labels or assignee")
def update_issue(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number, body: IssueUpdate
) -> IssueOut:
    return call(
        plat, svc.update_issue, actor=actor, project=f"{owner}/{name}", number=number, body=body
    )


@router.post("/issues/{number}/close", summary="Close an issue")
def close_issue(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> IssueOut:
    return call(plat, svc.close_issue, actor=actor, project=f"{owner}/{name}", number=number)


@router.post("/issues/{number}/reopen", summary="Reopen an issue")
def reopen_issue(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number
) -> IssueOut:
    return call(plat, svc.reopen_issue, actor=actor, project=f"{owner}/{name}", number=number)


@router.get("/issues/{number}/comments", summary="Comments of an issue, oldest first")
def list_comments(
    plat: PlatformDep, actor: ActorDep, page: PageDep, owner: str, name: str, number: Number
) -> Page[CommentOut]:
    return call(
        plat, svc.list_comments, actor=actor, project=f"{owner}/{name}", number=number, page=page
    )


@router.post("/issues/{number}/comments", status_code=201, summary="Comment on an issue")
def create_comment(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, number: Number, body: CommentCreate
) -> CommentOut:
    return call(
        plat, svc.create_comment, actor=actor, project=f"{owner}/{name}", number=number, body=body
    )


@router.patch("/comments/{comment_id}", summary="Edit a comment (its author, or a writer)")
def edit_comment(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    comment_id: uuid.UUID,
    body: CommentCreate,
) -> CommentOut:
    return call(
        plat,
        svc.edit_comment,
        actor=actor,
        project=f"{owner}/{name}",
        comment_id=comment_id,
        body=body,
    )
