"""``p.users``: users and agents as SDK objects.

``p.users.create("alice", email=…, password=…)``, ``p.users.list(kind="agent")``,
``p.users.get("alice").deactivate()``; ``user.tokens`` manages that user's API tokens (how an
owner gives its agent a credential). Every call goes through the same services as the REST API,
as the platform's actor, so RBAC answers the same ``PermissionDenied``/``NotFound``.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.identity.schemas import UserCreate, UserOut, UserUpdate
from platform_sdk.identity.sdk.tokens import TokenManager, validated
from platform_sdk.identity.services import users as service
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["User", "UserManager"]

_UNSET: Any = object()


class User(Resource[UserOut]):
    """One user or agent."""

    _label = "username"

    def __repr__(self) -> str:
        d = self._data
        tags = [d.kind.value]
        if d.owner:
            tags.append(f"owned by {d.owner}")
        if not d.is_active:
            tags.append("inactive")
        return f"<User {d.username} ({', '.join(tags)})>"

    @property
    def tokens(self) -> TokenManager:
        """This user's API tokens."""
        return TokenManager(self.platform, parent=self)

    def update(
        self,
        *,
        email: str | None = _UNSET,
        display_name: str | None = _UNSET,
        password: str | None = None,
        current_password: str | None = None,
    ) -> User:
        """Change e-mail or display name (``None`` clears them) or password.

        Changing your own password needs ``current_password``.
        """
        fields: dict[str, Any] = {"password": password, "current_password": current_password}
        if email is not _UNSET:
            fields["email"] = email
        if display_name is not _UNSET:
            fields["display_name"] = display_name
        body = validated(UserUpdate, **{k: v for k, v in fields.items() if v is not _UNSET})
        self._data = self._manager._call(service.update_user, username=self.username, body=body)
        return self

    def deactivate(self) -> User:
        """Deactivate; all its sessions and tokens are revoked at once."""
        self._data = self._manager._call(service.deactivate_user, username=self.username)
        return self

    def activate(self) -> User:
        """Reactivate (its old sessions and tokens stay revoked)."""
        self._data = self._manager._call(service.activate_user, username=self.username)
        return self

    def refresh(self) -> User:
        self._data = self._manager._call(service.get_user, username=self.username)
        return self


class UserManager(Manager[User]):
    """Users and agents the platform's actor may see."""

    resource = User

    def list(
        self,
        *,
        kind: str | None = None,
        active: bool | None = None,
        q: str | None = None,
        per_page: int = 100,
    ) -> Listing[User]:
        """Users by username; ``q`` searches username, display name and e-mail."""
        return self._listing(service.list_users, per_page, kind=kind, active=active, q=q)

    def get(self, username: str) -> User:
        return self._wrap(self._call(service.get_user, username=username))

    def create(
        self,
        username: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        kind: str = "human",
        password: str | None = None,
    ) -> User:
        """A new user, or (``kind="agent"``) an agent owned by the platform's actor."""
        body = validated(
            UserCreate,
            username=username,
            email=email,
            display_name=display_name,
            kind=kind,
            password=password,
        )
        return self._wrap(self._call(service.create_user, body=body))
