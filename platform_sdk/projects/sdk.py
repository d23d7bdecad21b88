"""``p.projects`` and ``Project`` objects."""

from __future__ import annotations

from typing import Any, ClassVar

from platform_sdk.git.mr_sdk import MergeRequestManager
from platform_sdk.git.sdk import Repository
from platform_sdk.notify.sdk import WebhookManager
from platform_sdk.pipelines.sdk import RunManager
from platform_sdk.projects.issue_sdk import IssueManager
from platform_sdk.projects.models import Visibility
from platform_sdk.projects.schemas import ProjectCreate, ProjectOut, ProjectUpdate
from platform_sdk.projects.services import projects as service
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["Project", "ProjectManager"]


class Project(Resource[ProjectOut]):
    """A project: ``project.secrets`` and, as capabilities land, its repo, issues, pipelines."""

    _label: ClassVar[str] = "full_name"

    @property
    def secrets(self) -> Any:
        from platform_sdk.secrets.sdk import SecretManager

        return SecretManager(self.platform, project=self._data.full_name)

    @property
    def issues(self) -> IssueManager:
        return IssueManager(self.platform, self._data.full_name)

    @property
    def merge_requests(self) -> MergeRequestManager:
        return MergeRequestManager(self.platform, self._data.full_name)

    @property
    def webhooks(self) -> WebhookManager:
        """The project's webhooks and their delivery logs."""
        return WebhookManager(self.platform, self._data.full_name)

    @property
    def pipelines(self) -> RunManager:
        """The project's pipeline runs: trigger, list, get; each run's steps, logs, artifacts."""
        return RunManager(self.platform, self._data.full_name)

    @property
    def repo(self) -> Repository:
        """The project's repository browser: branches, tags, tree, read, log, commit, compare."""
        return Repository(self.platform, self._data.full_name)

    def update(
        self,
        *,
        description: str | None = None,
        visibility: Visibility | str | None = None,
        default_branch: str | None = None,
        protected_branches: list[str] | None = None,
    ) -> Project:
        """Change the given settings (others stay); this object is refreshed in place."""
        body = ProjectUpdate(
            description=description,
            visibility=Visibility(visibility) if visibility is not None else None,
            default_branch=default_branch,
            protected_branches=protected_branches,
        )
        self._data = self._manager._call(service.update_project, ref=self._data.id, body=body)
        return self

    def delete(self) -> None:
        """Soft-delete the project: its name is free again, its repository moved aside."""
        self._manager._call(service.delete_project, ref=self._data.id)


class ProjectManager(Manager[Project]):
    resource = Project

    def create(
        self,
        name: str,
        *,
        description: str = "",
        visibility: Visibility | str = Visibility.PRIVATE,
        default_branch: str = "main",
    ) -> Project:
        body = ProjectCreate(
            name=name,
            description=description,
            visibility=Visibility(visibility),
            default_branch=default_branch,
        )
        return self._wrap(self._call(service.create_project, body=body))

    def get(self, ref: str) -> Project:
        """By ``owner/name`` or id."""
        return self._wrap(self._call(service.get_project, ref=ref))

    def list(self, *, owner: str | None = None, search: str | None = None) -> Listing[Project]:
        return self._listing(service.list_projects, owner=owner, search=search)
