"""``p.audit``: the audit log as SDK objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from platform_sdk.identity.schemas import AuditOut
from platform_sdk.identity.services import audit as service
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["AuditEntry", "AuditManager"]


class AuditEntry(Resource[AuditOut]):
    _label: ClassVar[str] = "action"

    def __repr__(self) -> str:
        d = self._data
        target = f" {d.target_type}:{d.target_id}" if d.target_type else ""
        return f"<AuditEntry {d.at:%Y-%m-%d %H:%M:%S} {d.actor_name} {d.action}{target}>"


class AuditManager(Manager[AuditEntry]):
    """Who did what, newest first: ``p.audit.list(action="secret.", user="alice")``."""

    resource = AuditEntry

    def list(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        project: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Listing[AuditEntry]:
        filters: dict[str, Any] = {
            "user": user,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "project": project,
            "since": since,
            "until": until,
        }
        return self._listing(service.list_audit, **filters)
