"""Pydantic schemas of webhooks, their deliveries, notifications and preferences.

One schema per resource serves services, HTTP bodies and the SDK. :class:`WebhookOut` carries
``secret`` only in the answer to a creation or a rotation — the one time the signing secret is
shown; every other read leaves it ``None``.

Event names a webhook may subscribe to are a type (``push``, ``merge_request``, ``issue``,
``pipeline``, ``deploy``, ``agent``), a type and action (``merge_request.merged``) or ``*``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from platform_sdk.notify.models import DeliveryStatus, NotificationChannel, NotificationStatus

__all__ = [
    "NOTIFICATION_KINDS",
    "WEBHOOK_EVENTS",
    "DeliveryOut",
    "MarkedRead",
    "NotificationOut",
    "PreferenceIn",
    "PreferenceOut",
    "UnreadCount",
    "WebhookCreate",
    "WebhookOut",
    "WebhookUpdate",
    "check_events",
]

WEBHOOK_EVENTS = ("push", "merge_request", "issue", "pipeline", "deploy", "agent")
"""Event types a webhook can subscribe to (``ping`` is sent by ``test`` regardless)."""

NOTIFICATION_KINDS = {
    "mr.opened": "A merge request was opened in a project you can write to",
    "mr.reviewed": "Your merge request was reviewed",
    "mr.merged": "Your merge request was merged",
    "issue.assigned": "An issue was assigned to you",
    "pipeline.failed": "A pipeline you triggered failed",
    "agent.finished": "An agent session you started finished",
    "alert.firing": "An alert fired in a project whose alerts you manage",
}
"""Kinds of notification, each with its own per-user preference."""


def check_events(events: list[str]) -> list[str]:
    """Validate and de-duplicate webhook event names (see the module docstring)."""
    if not events:
        raise ValueError("at least one event is needed (or '*')")
    out: list[str] = []
    for name in events:
        base = name.partition(".")[0]
        if name != "*" and base not in WEBHOOK_EVENTS:
            raise ValueError(f"unknown event {name!r}; use {', '.join(WEBHOOK_EVENTS)} or '*'")
        if name not in out:
            out.append(name)
    return out


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2048)
    events: list[str] = Field(default_factory=lambda: ["*"])
    active: bool = True

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return check_events(value)


class WebhookUpdate(BaseModel):
    url: str | None = Field(None, max_length=2048)
    events: list[str] | None = None
    active: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_events(value)


class WebhookOut(BaseModel):
    id: uuid.UUID
    project: str
    url: str
    events: list[str]
    active: bool
    content_type: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    secret: str | None = Field(
        None, description="The signing secret: only in the answer to create or rotate_secret"
    )


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    webhook_id: uuid.UUID
    event: str
    delivery_uuid: uuid.UUID
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    response_code: int | None
    response_body: str | None
    duration_ms: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID | None
    kind: str
    title: str
    body: str
    link: str | None
    channel: NotificationChannel
    status: NotificationStatus
    read_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int


class PreferenceIn(BaseModel):
    kind: str
    channels: list[NotificationChannel] = Field(
        description="Where this kind goes; an empty list turns it off"
    )
    webhook_url: str | None = Field(None, max_length=2048)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in NOTIFICATION_KINDS:
            raise ValueError(f"unknown kind {value!r}; use one of {', '.join(NOTIFICATION_KINDS)}")
        return value


class PreferenceOut(BaseModel):
    kind: str
    description: str
    channels: list[NotificationChannel]
    webhook_url: str | None
    default: bool = Field(description="True when no preference is stored (the inbox)")
