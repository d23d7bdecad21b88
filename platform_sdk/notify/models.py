"""Tables of outgoing webhooks, their deliveries, and user notifications.

A webhook's signing secret is not stored here: ``secret_id`` points at a row of the secrets
engine (``secrets``), which keeps it encrypted. Secret rows are versions, so rotating the
signing secret writes a new version and repoints ``secret_id`` at it. ``events`` lists event
names such as ``push`` or ``merge_request.merged``; ``"*"`` subscribes to every event.

Deliveries and notifications are work queues: a sender picks rows by status and due time
(indexes ``ix_webhook_deliveries_due`` and ``ix_notifications_status_created``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import status_enum, utcnow

__all__ = [
    "DeliveryStatus",
    "Notification",
    "NotificationChannel",
    "NotificationPreference",
    "NotificationStatus",
    "Webhook",
    "WebhookDelivery",
]


class DeliveryStatus(StatusEnum):
    """A webhook delivery: retried with backoff until it succeeds or gives up (both terminal)."""

    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_DELIVERY_NEXT = {DeliveryStatus.SUCCEEDED, DeliveryStatus.RETRYING, DeliveryStatus.FAILED}
DeliveryStatus.allow(
    {DeliveryStatus.PENDING: _DELIVERY_NEXT, DeliveryStatus.RETRYING: _DELIVERY_NEXT}
)


class NotificationChannel(enum.StrEnum):
    """Where a notification goes: the in-app inbox, an email, or the user's own webhook."""

    INBOX = "inbox"
    EMAIL = "email"
    WEBHOOK = "webhook"


class NotificationStatus(StatusEnum):
    """A notification: sent and skipped are terminal; a failed one may be queued again."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


NotificationStatus.allow(
    {
        NotificationStatus.PENDING: {
            NotificationStatus.SENT,
            NotificationStatus.FAILED,
            NotificationStatus.SKIPPED,
        },
        NotificationStatus.FAILED: {NotificationStatus.PENDING},
    }
)


class Webhook(IdMixin, TimestampMixin, Base):
    """An HTTP endpoint that receives a project's events, signed with a stored secret."""

    __tablename__ = "webhooks"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(default=list)
    secret_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("secrets.id", ondelete="SET NULL"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    content_type: Mapped[str] = mapped_column(String(100), default="application/json")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class WebhookDelivery(IdMixin, Base):
    """One event sent (or being sent) to one webhook, with the outcome of the last attempt.

    ``delivery_uuid`` goes out in the delivery header so receivers can deduplicate; a manual
    redelivery is a new row with a new uuid. ``response_body`` is truncated by the sender.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(100))
    delivery_uuid: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[DeliveryStatus] = mapped_column(
        status_enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    response_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Notification(IdMixin, Base):
    """A message to one user, shown in the inbox or sent by email; ``read_at`` marks it read."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_created", "status", "created_at"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(2048))
    channel: Mapped[NotificationChannel] = mapped_column(
        status_enum(NotificationChannel), default=NotificationChannel.INBOX
    )
    status: Mapped[NotificationStatus] = mapped_column(
        status_enum(NotificationStatus), default=NotificationStatus.PENDING
    )
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    """When a failed email/webhook notification is tried again (``None``: now, if pending)."""
    error: Mapped[str | None] = mapped_column(Text)


class NotificationPreference(Base):
    """Which channels one user wants for one kind of notification (``mr.opened`` …).

    No row means the default for that kind (the inbox); an empty list turns the kind off.
    ``webhook_url`` is where the ``webhook`` channel posts for this user.
    """

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(100), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(default=list)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
