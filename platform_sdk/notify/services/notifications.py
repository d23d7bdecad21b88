"""Notification services: the caller's own inbox and preferences — nobody else's.

Every function acts on ``actor.user_id`` only, so no permission is involved: a notification of
another user is ``NotFound``. The inbox lists ``inbox``-channel notifications (email and webhook
rows are a send log, not inbox items), newest first. Preferences are per kind
(:data:`~platform_sdk.notify.schemas.NOTIFICATION_KINDS`); no stored row means the default —
the inbox — and an empty channel list turns a kind off. Changes are audited.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.notify.models import Notification, NotificationChannel, NotificationPreference
from platform_sdk.notify.schemas import (
    NOTIFICATION_KINDS,
    MarkedRead,
    NotificationOut,
    PreferenceIn,
    PreferenceOut,
    UnreadCount,
)
from platform_sdk.notify.ssrf import check_target

__all__ = [
    "get_preferences",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "set_preferences",
    "unread_count",
]


def _inbox(actor: Actor) -> list[object]:
    return [
        Notification.user_id == actor.user_id,
        Notification.channel == NotificationChannel.INBOX,
    ]


def list_notifications(
    db: Session, *, actor: Actor, page: PageParams, unread: bool = False
) -> Page[NotificationOut]:
    """The caller's inbox, newest first; ``unread`` keeps only unread ones."""
    stmt = select(Notification).where(*_inbox(actor))  # type: ignore[arg-type]
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    return paginate(db, stmt, page, NotificationOut.model_validate)


def unread_count(db: Session, *, actor: Actor) -> UnreadCount:
    count = db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(*_inbox(actor), Notification.read_at.is_(None))  # type: ignore[arg-type]
    )
    return UnreadCount(unread=int(count or 0))


def mark_read(db: Session, *, actor: Actor, notification_id: uuid.UUID) -> NotificationOut:
    """Mark one of the caller's notifications read (idempotent)."""
    row = db.get(Notification, notification_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound(f"notification {notification_id} not found")
    if row.read_at is None:
        row.read_at = utcnow()
        audit.record(db, actor, "notification.read", target_type="notification", target_id=row.id)
        db.flush()
    return NotificationOut.model_validate(row)


def mark_all_read(db: Session, *, actor: Actor) -> MarkedRead:
    """Mark every unread notification of the caller read; how many were."""
    result = db.execute(
        update(Notification)
        .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    marked = int(getattr(result, "rowcount", 0) or 0)
    audit.record(db, actor, "notification.read_all", details={"marked": marked})
    db.flush()
    return MarkedRead(marked=marked)


def get_preferences(db: Session, *, actor: Actor) -> list[PreferenceOut]:
    """Every kind with the caller's channels for it (the default where none is stored)."""
    rows = {
        r.kind: r
        for r in db.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == actor.user_id)
        )
    }
    out = []
    for kind, description in NOTIFICATION_KINDS.items():
        row = rows.get(kind)
        out.append(
            PreferenceOut(
                kind=kind,
                description=description,
                channels=(
                    [NotificationChannel(c) for c in row.channels]
                    if row is not None
                    else [NotificationChannel.INBOX]
                ),
                webhook_url=row.webhook_url if row is not None else None,
                default=row is None,
            )
        )
    return out


def set_preferences(
    db: Session, *, actor: Actor, preferences: list[PreferenceIn]
) -> list[PreferenceOut]:
    """Store the caller's channels for the given kinds; answers every kind afterwards.

    The ``webhook`` channel needs a ``webhook_url`` that passes the same target check as
    project webhooks.
    """
    allow = runtime_of(db).settings.webhook_allow_private
    for pref in preferences:
        url = pref.webhook_url
        if NotificationChannel.WEBHOOK in pref.channels and not url:
            raise ValidationFailed(
                f"{pref.kind}: the webhook channel needs webhook_url",
                details={"field": "webhook_url"},
            )
        if url:
            url = check_target(url, allow_private=allow, field="webhook_url", saving=True)
        row = db.get(NotificationPreference, (actor.user_id, pref.kind))
        if row is None:
            row = NotificationPreference(user_id=actor.user_id, kind=pref.kind)
            db.add(row)
        row.channels = list(dict.fromkeys(c.value for c in pref.channels))
        row.webhook_url = url
        row.updated_at = utcnow()
    audit.record(
        db,
        actor,
        "notification.preferences",
        details={"kinds": {p.kind: [c.value for c in p.channels] for p in preferences}},
    )
    db.flush()
    return get_preferences(db, actor=actor)
