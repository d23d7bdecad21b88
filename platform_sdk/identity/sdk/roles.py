"""``p.roles`` and ``p.bindings``: roles, their permissions, and who holds them where.

Bindings are reachable two ways, both calling the same services:

- from a role, python-gitlab style: ``p.roles.get("developer").bind("alice", project="alice/app")``,
  ``role.bindings`` (a lazy listing), ``role.unbind("alice", project=…)``;
- from ``p.bindings``, to ask "what does alice hold?": ``p.bindings.list(user="alice")``,
  ``p.bindings.create("alice", "viewer")``, ``binding.delete()``.

Users and projects may be given by name (``"alice"``, ``"alice/app"``), by id, or as SDK
objects (anything with ``username``, or with ``full_name``/``id`` for projects).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from platform_sdk.core.access import Perm
from platform_sdk.identity.grants import PermissionOut
from platform_sdk.identity.schemas import BindingCreate, BindingOut, RoleCreate, RoleOut, RoleUpdate
from platform_sdk.identity.services import bindings as binding_service
from platform_sdk.identity.services import roles as role_service
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["Binding", "BindingManager", "ProjectRef", "Role", "RoleManager", "UserRef"]

UserRef = str | Resource[Any]
ProjectRef = str | uuid.UUID | Resource[Any]


def user_name(user: UserRef) -> str:
    """A user name from a name or any object with ``username``."""
    if isinstance(user, str):
        return user
    name = getattr(user, "username", None)
    if not isinstance(name, str):
        raise TypeError(f"expected a user name or a user object, got {user!r}")
    return name


def project_ref(project: ProjectRef | None) -> str | None:
    """``owner/name`` or an id, from a reference or any object with ``full_name``/``id``."""
    if project is None or isinstance(project, str):
        return project
    if isinstance(project, uuid.UUID):
        return str(project)
    ref = getattr(project, "full_name", None) or getattr(project, "id", None)
    if ref is None:
        raise TypeError(f"expected a project reference or a project object, got {project!r}")
    return str(ref)


class Binding(Resource[BindingOut]):
    """One role binding: ``user`` holds ``role`` globally (``project`` None) or in ``project``."""

    def delete(self) -> None:
        """Remove this binding."""
        self._manager._call(binding_service.delete_binding, binding_id=self._data.id)

    def __repr__(self) -> str:
        d = self._data
        return f"<Binding {d.user} {d.role} {'in ' + d.project if d.project else 'globally'}>"


class BindingManager(Manager[Binding]):
    """Role bindings: ``p.bindings.list(user="alice")``, ``p.bindings.create("bob", "viewer")``."""

    resource = Binding

    def list(
        self,
        *,
        user: UserRef | None = None,
        role: str | None = None,
        project: ProjectRef | None = None,
    ) -> Listing[Binding]:
        return self._listing(
            binding_service.list_bindings,
            user=None if user is None else user_name(user),
            role=role,
            project=project_ref(project),
        )

    def get(self, binding_id: uuid.UUID | str) -> Binding:
        out = self._call(binding_service.get_binding, binding_id=uuid.UUID(str(binding_id)))
        return self._wrap(out)

    def create(self, user: UserRef, role: str, project: ProjectRef | None = None) -> Binding:
        """Bind ``user`` to ``role``, globally or in ``project``."""
        body = BindingCreate(user=user_name(user), role=role, project=project_ref(project))
        return self._wrap(self._call(binding_service.create_binding, body=body))

    def remove(self, user: UserRef, role: str, project: ProjectRef | None = None) -> None:
        """Remove ``user``'s binding to ``role`` (globally, or in ``project``)."""
        self._call(
            binding_service.unbind, user=user_name(user), role=role, project=project_ref(project)
        )


class Role(Resource[RoleOut]):
    """A named set of permissions; ``permissions`` lists them, ``is_system`` marks built-ins."""

    _label: ClassVar[str] = "name"

    def update(
        self, *, description: str | None = None, permissions: Sequence[str | Perm] | None = None
    ) -> Role:
        """Change a custom role's description and/or replace its permissions."""
        body = RoleUpdate(
            description=description,
            permissions=None if permissions is None else [str(p) for p in permissions],
        )
        self._data = self._manager._call(role_service.update_role, name=self._data.name, body=body)
        return self

    def delete(self, *, force: bool = False) -> None:
        """Delete this custom role (``force`` also removes its bindings)."""
        self._manager._call(role_service.delete_role, name=self._data.name, force=force)

    def bind(self, user: UserRef, project: ProjectRef | None = None) -> Binding:
        """Give ``user`` this role, globally or in ``project``."""
        return BindingManager(self.platform).create(user, self._data.name, project)

    def unbind(self, user: UserRef, project: ProjectRef | None = None) -> None:
        """Take this role from ``user`` (globally, or in ``project``)."""
        BindingManager(self.platform).remove(user, self._data.name, project)

    @property
    def bindings(self) -> Listing[Binding]:
        """Who holds this role, where (as far as the actor may see)."""
        return BindingManager(self.platform).list(role=self._data.name)

    def __repr__(self) -> str:
        kind = "system " if self._data.is_system else ""
        return f"<Role {kind}{self._data.name}: {', '.join(self._data.permissions) or '-'}>"


class RoleManager(Manager[Role]):
    """Roles: ``p.roles.list()``, ``p.roles.get("developer")``, ``p.roles.create(...)``."""

    resource = Role

    def list(self) -> Listing[Role]:
        return self._listing(role_service.list_roles)

    def get(self, name: str) -> Role:
        return self._wrap(self._call(role_service.get_role, name=name))

    def create(
        self,
        name: str,
        permissions: Sequence[str | Perm] = (),
        *,
        description: str = "",
    ) -> Role:
        """A custom role holding ``permissions`` (each of which you must hold globally)."""
        body = RoleCreate(
            name=name, description=description, permissions=[str(p) for p in permissions]
        )
        return self._wrap(self._call(role_service.create_role, body=body))

    def catalogue(self) -> builtins.list[PermissionOut]:
        """Every permission there is, with what it allows."""
        result: builtins.list[PermissionOut] = self._call(role_service.list_permissions)
        return result
