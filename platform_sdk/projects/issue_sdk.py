"""``project.issues`` → :class:`IssueManager`; ``issue.comments`` → :class:`CommentManager`.

Managers take the project as ``owner/name`` (or a ``Project`` object, whose ``full_name`` is
used) and call :mod:`platform_sdk.projects.services.issues` as the platform's actor. Verbs on
an :class:`Issue` return the refreshed issue and also update the object in place.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.projects.issue_schemas import (
    CommentCreate,
    CommentOut,
    IssueCreate,
    IssueOut,
    IssueState,
    IssueUpdate,
)
from platform_sdk.projects.services import issues as svc
from platform_sdk.sdkbase import Listing, Manager, Resource

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["Comment", "CommentManager", "Issue", "IssueManager"]


def project_ref(project: Any) -> str:
    """``owner/name`` of a project given as text or as an SDK ``Project``."""
    return project if isinstance(project, str) else str(project.full_name)


class Comment(Resource[CommentOut]):
    _label: ClassVar[str] = "id"

    def edit(self, body: str) -> Comment:
        manager: CommentManager = self._manager  # type: ignore[assignment]
        self._data = manager._call(
            svc.edit_comment,
            project=manager.project,
            comment_id=self._data.id,
            body=CommentCreate(body=body),
        )
        return self


class CommentManager(Manager[Comment]):
    """Comments of one issue, oldest first."""

    resource = Comment

    def __init__(self, platform: Platform, project: str, number: int) -> None:
        super().__init__(platform)
        self.project = project
        self.number = number

    def list(self) -> Listing[Comment]:
        return self._listing(svc.list_comments, project=self.project, number=self.number)

    def create(self, body: str) -> Comment:
        out = self._call(
            svc.create_comment,
            project=self.project,
            number=self.number,
            body=CommentCreate(body=body),
        )
        return self._wrap(out)

    def edit(self, comment_id: uuid.UUID, body: str) -> Comment:
        out = self._call(
            svc.edit_comment,
            project=self.project,
            comment_id=comment_id,
            body=CommentCreate(body=body),
        )
        return self._wrap(out)


class Issue(Resource[IssueOut]):
    """One issue: ``update()``, ``close()``, ``reopen()``, ``assign()``, ``comments``."""

    _label: ClassVar[str] = "number"

    @property
    def _ref(self) -> str:
        return self._data.project

    def _do(self, fn: Any, **kwargs: Any) -> Issue:
        self._data = self._manager._call(fn, project=self._ref, number=self._data.number, **kwargs)
        return self

    def update(self, **fields: Any) -> Issue:
        """Change ``title``, ``body``, ``labels`` and/or ``assignee`` (None unassigns)."""
        return self._do(svc.update_issue, body=IssueUpdate.model_validate(fields))

    def close(self) -> Issue:
        return self._do(svc.close_issue)

    def reopen(self) -> Issue:
        return self._do(svc.reopen_issue)

    def assign(self, username: str | None) -> Issue:
        return self._do(svc.assign_issue, assignee=username)

    @property
    def comments(self) -> CommentManager:
        return CommentManager(self.platform, self._ref, self._data.number)

    def __repr__(self) -> str:
        return f"<Issue {self._data.project}#{self._data.number} {self._data.title!r}>"


class IssueManager(Manager[Issue]):
    """Issues of one project: ``list(state=…, label=…, assignee=…, search=…)``, ``get``,
    ``create``."""

    resource = Issue

    def __init__(self, platform: Platform, project: Any) -> None:
        super().__init__(platform)
        self.project = project_ref(project)

    def list(
        self,
        *,
        state: IssueState | str | None = None,
        label: str | None = None,
        assignee: str | None = None,
        search: str | None = None,
    ) -> Listing[Issue]:
        return self._listing(
            svc.list_issues,
            project=self.project,
            state=IssueState(state) if state else None,
            label=label,
            assignee=assignee,
            search=search,
        )

    def get(self, number: int) -> Issue:
        return self._wrap(self._call(svc.get_issue, project=self.project, number=number))

    def create(
        self,
        title: str,
        *,
        body: str = "",
        labels: Sequence[str] | None = None,
        assignee: str | None = None,
    ) -> Issue:
        data = IssueCreate(title=title, body=body, labels=list(labels or ()), assignee=assignee)
        return self._wrap(self._call(svc.create_issue, project=self.project, body=data))
