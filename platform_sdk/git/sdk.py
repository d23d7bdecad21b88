"""``project.repo``: the repository browser as Python objects.

>>> repo = p.projects.get("alice/app").repo
>>> [b.name for b in repo.branches]
>>> repo.read("README.md")            # str for text, bytes for binary files
>>> for c in repo.log(path="src"): print(c.sha[:8], c.subject)
>>> repo.compare("main", "feature").ahead_by
>>> repo.pushes()[0].ref              # the push log, newest first

Every call goes through :mod:`platform_sdk.git.services.browse` as the platform's actor, so
what the SDK can see is exactly what the HTTP API shows that actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from platform_sdk.git.push_schemas import PushOut
from platform_sdk.git.schemas import (
    BranchOut,
    CommitDetailOut,
    CommitOut,
    CompareOut,
    TagOut,
    TreeEntryOut,
)
from platform_sdk.git.services import browse, pushes
from platform_sdk.sdkbase import Listing, Manager, Resource

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["Branch", "Commit", "Repository", "Tag"]


class Branch(Resource[BranchOut]):
    _label: ClassVar[str] = "name"


class Tag(Resource[TagOut]):
    _label: ClassVar[str] = "name"


class Commit(Resource[CommitOut]):
    _label: ClassVar[str] = "sha"

    def detail(self) -> CommitDetailOut:
        """This commit with its diff."""
        repo = self._manager
        assert isinstance(repo, Repository)
        return repo.commit(self._data.sha)


class Repository(Manager[Commit]):
    """The bare repository of one project, read through the browser services."""

    resource = Commit

    def __init__(self, platform: Platform, full_name: str) -> None:
        super().__init__(platform)
        self.full_name = full_name

    @property
    def clone_url(self) -> str:
        """Where ``git clone`` reaches this repository over the platform's smart HTTP."""
        return f"http://{self.platform.settings.listen}/{self.full_name}.git"

    @property
    def branches(self) -> list[Branch]:
        items = self._call(browse.list_branches, project=self.full_name)
        return [Branch(self, b) for b in items]

    @property
    def tags(self) -> list[Tag]:
        return [Tag(self, t) for t in self._call(browse.list_tags, project=self.full_name)]

    def tree(self, ref: str | None = None, path: str = "") -> list[TreeEntryOut]:
        """Entries of directory ``path`` at ``ref`` (default branch by default)."""
        entries: list[TreeEntryOut] = self._call(
            browse.get_tree, project=self.full_name, ref=ref, path=path
        )
        return entries

    def read(self, path: str, ref: str | None = None) -> bytes | str:
        """The file's content: ``str`` when it is UTF-8 text, ``bytes`` otherwise."""
        out = self._call(browse.read_file, project=self.full_name, path=path, ref=ref)
        return out.content if out.encoding == "utf-8" else out.raw()  # type: ignore[no-any-return]

    def log(self, ref: str | None = None, path: str | None = None) -> Listing[Commit]:
        """Commits of ``ref``, newest first, fetched a page at a time as you iterate."""
        return self._listing(browse.log, project=self.full_name, ref=ref, path=path)

    def commit(self, sha: str) -> CommitDetailOut:
        detail: CommitDetailOut = self._call(browse.get_commit, project=self.full_name, sha=sha)
        return detail

    def compare(self, base: str, head: str) -> CompareOut:
        """Commits ahead/behind and the diff from the merge base of ``base`` to ``head``."""
        out: CompareOut = self._call(browse.compare, project=self.full_name, base=base, head=head)
        return out

    diff = compare

    def pushes(self) -> list[PushOut]:
        """The push log: every recorded ref update, newest first (the first 100)."""
        page = self._call(pushes.list_pushes, project=self.full_name)
        return list(page.items)

    def __repr__(self) -> str:
        return f"<Repository {self.full_name}>"
