"""Secrets as SDK objects: ``p.secrets`` (global) and ``project.secrets`` (one project).

::

    p.secrets.set("REGISTRY_TOKEN", token, scope="pipeline")
    proj.secrets.set("DATABASE_URL", url)                # scope "all"
    [s.name for s in proj.secrets.list()]                # metadata only
    proj.secrets.resolve("DATABASE_URL", scope="deploy") # the value; audited, needs secret:read
    proj.secrets.expand("psql ${{ secrets.DATABASE_URL }}", scope="pipeline")

A :class:`Secret` never holds a value: only :meth:`SecretManager.resolve` and
:meth:`SecretManager.expand` return one, and each call writes an audit row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from platform_sdk.sdkbase import Listing, Manager, Resource
from platform_sdk.secrets import service
from platform_sdk.secrets.models import SecretScope
from platform_sdk.secrets.schemas import RotationOut, SecretOut

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["Secret", "SecretManager"]


class Secret(Resource[SecretOut]):
    """One secret's metadata (latest version); no value."""

    _label: ClassVar[str] = "name"
    _manager: SecretManager

    def delete(self) -> None:
        """Delete every version of this secret."""
        self._manager.delete(self._data.name)

    def resolve(self, scope: str | SecretScope = SecretScope.ALL) -> str:
        """The value, for a runtime of ``scope`` (audited; needs ``secret:read``)."""
        return self._manager.resolve(self._data.name, scope=scope)

    def __repr__(self) -> str:
        where = self._data.project or "global"
        return f"<Secret {self._data.name} v{self._data.version} {where} scope={self._data.scope}>"


class SecretManager(Manager[Secret]):
    """The secrets of one project (``project`` ref) or the global ones (``project=None``)."""

    resource = Secret

    def __init__(self, platform: Platform, project: str | uuid.UUID | None = None) -> None:
        super().__init__(platform)
        self.project = project

    def set(self, name: str, value: str, scope: str | SecretScope = SecretScope.ALL) -> Secret:
        """Store ``value`` as a new version of ``name``; returns its metadata."""
        out = self._call(
            service.set_secret, name=name, value=value, scope=scope, project=self.project
        )
        return self._wrap(out)

    def list(self) -> Listing[Secret]:
        """The live secrets here, by name (metadata only)."""
        return self._listing(service.list_secrets, project=self.project)

    def get(self, name: str) -> Secret:
        return self._wrap(self._call(service.get_secret, name=name, project=self.project))

    def delete(self, name: str) -> None:
        self._call(service.delete_secret, name=name, project=self.project)

    def resolve(
        self, name: str, scope: str | SecretScope = SecretScope.ALL, version: int | None = None
    ) -> str:
        """The value of ``name`` for a runtime of ``scope`` (audited; needs ``secret:read``).

        A project secret shadows a global one of the same name; its scope must be ``all`` or
        ``scope``.
        """
        value: str = self._call(
            service.resolve, name=name, scope=scope, version=version, project=self.project
        )
        return value

    def expand(self, text: str, scope: str | SecretScope) -> str:
        """``text`` with each ``${{ secrets.NAME }}`` replaced (audited per name)."""
        out: str = self._call(service.expand, text=text, scope=scope, project=self.project)
        return out

    def rotate_key(self, progress: bool | Callable[[int, int], None] = False) -> RotationOut:
        """Re-encrypt every secret under a new (file mode) or the current (env mode) key.

        ``progress=True`` shows a tqdm bar; a callable gets ``(done, total)``.
        """
        if progress is True:
            from tqdm.auto import tqdm

            with tqdm(desc="re-encrypting", unit="secret") as bar:

                def tick(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                result: RotationOut = self._call(service.rotate_key, progress=tick)
            return result
        callback = progress if callable(progress) else None
        result = self._call(service.rotate_key, progress=callback)
        return result

    def __repr__(self) -> str:
        return f"<SecretManager {self.project or 'global'}>"
