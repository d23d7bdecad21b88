"""``project.merge_requests`` → :class:`MergeRequestManager`; ``mr.reviews``, ``mr.comments``.

A :class:`MergeRequest` offers ``commits()``, ``diff()``, ``merge(strategy=…)``, ``close()``,
``reopen()`` and ``update(title=…, body=…)``; verbs refresh the object in place and return it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.git.mr_schemas import (
    MergeBody,
    MergeRequestCreate,
    MergeRequestOut,
    MergeRequestState,
    MergeRequestUpdate,
    MergeStrategy,
    MrCommitOut,
    MrDiffOut,
    ReviewCreate,
    ReviewOut,
    ReviewVerdict,
)
from platform_sdk.git.services import merge_requests as svc
from platform_sdk.git.services import mr_discussion as disc
from platform_sdk.projects.issue_schemas import CommentCreate
from platform_sdk.projects.issue_sdk import Comment, project_ref
from platform_sdk.sdkbase import Listing, Manager, Resource

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = [
    "MergeRequest",
    "MergeRequestManager",
    "MrCommentManager",
    "Review",
    "ReviewManager",
]


class _Nested(Manager[Any]):
    def __init__(self, platform: Platform, project: str, number: int) -> None:
        super().__init__(platform)
        self.project = project
        self.number = number


class Review(Resource[ReviewOut]):
    _label: ClassVar[str] = "verdict"


class ReviewManager(_Nested):
    """Reviews of one merge request, oldest first."""

    resource = Review

    def list(self) -> Listing[Any]:
        return self._listing(disc.list_reviews, project=self.project, number=self.number)

    def create(self, verdict: ReviewVerdict | str, body: str = "") -> Review:
        data = ReviewCreate(verdict=ReviewVerdict(verdict), body=body)
        out = self._call(disc.create_review, project=self.project, number=self.number, body=data)
        return Review(self, out)


class MrCommentManager(_Nested):
    """Comments of one merge request, oldest first (edit with ``comment.edit(text)``)."""

    resource = Comment

    def list(self) -> Listing[Any]:
        return self._listing(disc.list_mr_comments, project=self.project, number=self.number)

    def create(self, body: str) -> Comment:
        out = self._call(
            disc.create_mr_comment,
            project=self.project,
            number=self.number,
            body=CommentCreate(body=body),
        )
        return Comment(self, out)


class MergeRequest(Resource[MergeRequestOut]):
    _label: ClassVar[str] = "number"

    def _do(self, fn: Any, **kwargs: Any) -> MergeRequest:
        self._data = self._manager._call(
            fn, project=self._data.project, number=self._data.number, **kwargs
        )
        return self

    def update(self, *, title: str | None = None, body: str | None = None) -> MergeRequest:
        return self._do(svc.update_merge_request, body=MergeRequestUpdate(title=title, body=body))

    def close(self) -> MergeRequest:
        return self._do(svc.close_merge_request)

    def reopen(self) -> MergeRequest:
        return self._do(svc.reopen_merge_request)

    def merge(
        self,
        strategy: MergeStrategy | str = MergeStrategy.MERGE,
        *,
        expected_target_sha: str | None = None,
        message: str | None = None,
    ) -> MergeRequest:
        body = MergeBody(
            strategy=MergeStrategy(strategy),
            expected_target_sha=expected_target_sha,
            message=message,
        )
        return self._do(svc.merge_merge_request, body=body)

    def commits(self) -> list[MrCommitOut]:
        out: list[MrCommitOut] = self._manager._call(
            svc.list_mr_commits, project=self._data.project, number=self._data.number
        )
        return out

    def diff(self) -> MrDiffOut:
        out: MrDiffOut = self._manager._call(
            svc.get_mr_diff, project=self._data.project, number=self._data.number
        )
        return out

    @property
    def reviews(self) -> ReviewManager:
        return ReviewManager(self.platform, self._data.project, self._data.number)

    @property
    def comments(self) -> MrCommentManager:
        return MrCommentManager(self.platform, self._data.project, self._data.number)

    def __repr__(self) -> str:
        d = self._data
        return (
            f"<MergeRequest {d.project}!{d.number} {d.source_branch}→{d.target_branch} {d.state}>"
        )


class MergeRequestManager(Manager[MergeRequest]):
    resource = MergeRequest

    def __init__(self, platform: Platform, project: Any) -> None:
        super().__init__(platform)
        self.project = project_ref(project)

    def list(
        self,
        *,
        state: MergeRequestState | str | None = None,
        author: str | None = None,
        target_branch: str | None = None,
        search: str | None = None,
    ) -> Listing[MergeRequest]:
        return self._listing(
            svc.list_merge_requests,
            project=self.project,
            state=MergeRequestState(state) if state else None,
            author=author,
            target_branch=target_branch,
            search=search,
        )

    def get(self, number: int) -> MergeRequest:
        return self._wrap(self._call(svc.get_merge_request, project=self.project, number=number))

    def create(
        self, source_branch: str, target_branch: str, *, title: str, body: str = ""
    ) -> MergeRequest:
        data = MergeRequestCreate(
            source_branch=source_branch, target_branch=target_branch, title=title, body=body
        )
        return self._wrap(self._call(svc.create_merge_request, project=self.project, body=data))
