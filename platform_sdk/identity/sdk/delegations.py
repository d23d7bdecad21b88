"""``p.delegations``: lend a permission you hold to another user or agent, and take it back.

``p.delegations.create("bot", "deploy:promote", project="alice/app", until=timedelta(hours=2),
reason="release")`` returns a :class:`Delegation`; ``delegation.revoke()`` ends it at once.
``until`` takes an aware datetime or a duration from now. ``active`` is a snapshot taken when
the object was fetched (not revoked, not expired); ``refresh()`` fetches it again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import ClassVar

from platform_sdk.core.access import Perm
from platform_sdk.core.types import utcnow
from platform_sdk.identity.schemas import DelegationCreate, DelegationOut
from platform_sdk.identity.sdk.roles import ProjectRef, UserRef, project_ref, user_name
from platform_sdk.identity.services import delegations as service
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["Delegation", "DelegationManager"]


class Delegation(Resource[DelegationOut]):
    """One delegation: ``grantor`` lends ``permission`` to ``grantee`` (in ``project``)."""

    _label: ClassVar[str] = "permission"

    def revoke(self) -> Delegation:
        """Revoke now (grantor or admin); the grantee loses the permission at once."""
        self._data = self._manager._call(service.revoke_delegation, delegation_id=self._data.id)
        return self

    def refresh(self) -> Delegation:
        self._data = self._manager._call(service.get_delegation, delegation_id=self._data.id)
        return self

    def __repr__(self) -> str:
        d = self._data
        where = f" in {d.project}" if d.project else ""
        state = "active" if d.active else "inactive"
        return f"<Delegation {d.grantor}→{d.grantee} {d.permission}{where} ({state})>"


class DelegationManager(Manager[Delegation]):
    """Delegations you grant or receive (admins: all)."""

    resource = Delegation

    def list(
        self,
        *,
        grantor: UserRef | None = None,
        grantee: UserRef | None = None,
        project: ProjectRef | None = None,
        active: bool | None = None,
    ) -> Listing[Delegation]:
        return self._listing(
            service.list_delegations,
            grantor=None if grantor is None else user_name(grantor),
            grantee=None if grantee is None else user_name(grantee),
            project=project_ref(project),
            active=active,
        )

    def get(self, delegation_id: uuid.UUID | str) -> Delegation:
        out = self._call(service.get_delegation, delegation_id=uuid.UUID(str(delegation_id)))
        return self._wrap(out)

    def create(
        self,
        grantee: UserRef,
        permission: str | Perm,
        project: ProjectRef | None = None,
        until: datetime | timedelta | None = None,
        reason: str = "",
    ) -> Delegation:
        """Lend ``permission`` to ``grantee``, globally or in ``project``, optionally until then."""
        expires_at = utcnow() + until if isinstance(until, timedelta) else until
        body = DelegationCreate(
            grantee=user_name(grantee),
            permission=str(permission),
            project=project_ref(project),
            expires_at=expires_at,
            reason=reason,
        )
        return self._wrap(self._call(service.create_delegation, body=body))
