"""``p.projects`` and ``Project`` objects."""

from __future__ import annotations

from typing import Any, ClassVar

from platform_sdk.projects import service
from platform_sdk.projects.models import Visibility
from platform_sdk.projects.schemas import ProjectCreate, ProjectOut
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["Project", "ProjectManager"]


class Project(Resource[ProjectOut]):
    """A project: ``project.secrets`` and, as capabilities land, its repo, issues, pipelines."""

    _label: ClassVar[str] = "full_name"

    @property
    def secrets(self) -> Any:
        from platform_sdk.secrets.sdk import SecretManager

        return SecretManager(self.platform, project=self._data.full_name)


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
