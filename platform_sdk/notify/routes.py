"""``/api/projects/{owner}/{name}/webhooks`` and ``/api/notifications``: thin routes.

Each route parses, calls one service in a committed transaction (``call``) and returns its
schema. The two routers are exported together as :data:`routers`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from platform_sdk.core.pagination import Page
from platform_sdk.notify.schemas import (
    DeliveryOut,
    MarkedRead,
    NotificationOut,
    PreferenceIn,
    PreferenceOut,
    UnreadCount,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
)
from platform_sdk.notify.services import notifications as notes
from platform_sdk.notify.services import webhooks as hooks
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["notifications_router", "routers", "webhooks_router"]

webhooks_router = APIRouter(prefix="/api/projects/{owner}/{name}/webhooks", tags=["webhooks"])
notifications_router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@webhooks_router.get("", summary="The project's webhooks (no secrets)")
def list_webhooks(
    plat: PlatformDep, actor: ActorDep, page: PageDep, owner: str, name: str
) -> Page[WebhookOut]:
    return call(plat, hooks.list_webhooks, actor=actor, project=f"{owner}/{name}", page=page)


@webhooks_router.post("", status_code=201, summary="Add a webhook (the secret is shown once)")
def create_webhook(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, body: WebhookCreate
) -> WebhookOut:
    return call(plat, hooks.create_webhook, actor=actor, project=f"{owner}/{name}", body=body)


@webhooks_router.get("/{webhook_id}", summary="One webhook")
def get_webhook(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, webhook_id: uuid.UUID
) -> WebhookOut:
    return call(
        plat, hooks.get_webhook, actor=actor, project=f"{owner}/{name}", webhook_id=webhook_id
    )


@webhooks_router.patch("/{webhook_id}", summary="Change URL, events or active flag")
def update_webhook(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
) -> WebhookOut:
    return call(
        plat,
        hooks.update_webhook,
        actor=actor,
        project=f"{owner}/{name}",
        webhook_id=webhook_id,
        body=body,
    )


@webhooks_router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook")
def delete_webhook(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, webhook_id: uuid.UUID
) -> Response:
    call(plat, hooks.delete_webhook, actor=actor, project=f"{owner}/{name}", webhook_id=webhook_id)
    return Response(status_code=204)


@webhooks_router.post("/{webhook_id}/rotate_secret", summary="New signing secret (shown once)")
def rotate_secret(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, webhook_id: uuid.UUID
) -> WebhookOut:
    return call(
        plat,
        hooks.rotate_webhook_secret,
        actor=actor,
        project=f"{owner}/{name}",
        webhook_id=webhook_id,
    )


@webhooks_router.post("/{webhook_id}/test", status_code=202, summary="Queue a ping delivery")
def test_webhook(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, webhook_id: uuid.UUID
) -> DeliveryOut:
    return call(
        plat,
        hooks.send_test_delivery,
        actor=actor,
        project=f"{owner}/{name}",
        webhook_id=webhook_id,
    )


@webhooks_router.get("/{webhook_id}/deliveries", summary="The delivery log, newest first")
def list_deliveries(
    plat: PlatformDep, actor: ActorDep, page: PageDep, owner: str, name: str, webhook_id: uuid.UUID
) -> Page[DeliveryOut]:
    return call(
        plat,
        hooks.list_deliveries,
        actor=actor,
        project=f"{owner}/{name}",
        webhook_id=webhook_id,
        page=page,
    )


@webhooks_router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Queue the same payload again as a new delivery",
)
def redeliver(
    plat: PlatformDep,
    actor: ActorDep,
    owner: str,
    name: str,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> DeliveryOut:
    return call(
        plat,
        hooks.redeliver,
        actor=actor,
        project=f"{owner}/{name}",
        webhook_id=webhook_id,
        delivery_id=delivery_id,
    )


@notifications_router.get("", summary="The caller's inbox, newest first")
def list_notifications(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only unread ones")] = False,
) -> Page[NotificationOut]:
    return call(plat, notes.list_notifications, actor=actor, page=page, unread=unread)


@notifications_router.get("/unread_count", summary="How many inbox items are unread")
def unread_count(plat: PlatformDep, actor: ActorDep) -> UnreadCount:
    return call(plat, notes.unread_count, actor=actor)


@notifications_router.post("/read_all", summary="Mark every notification read")
def read_all(plat: PlatformDep, actor: ActorDep) -> MarkedRead:
    return call(plat, notes.mark_all_read, actor=actor)


@notifications_router.get("/preferences", summary="Channels per notification kind")
def get_preferences(plat: PlatformDep, actor: ActorDep) -> list[PreferenceOut]:
    return call(plat, notes.get_preferences, actor=actor)


@notifications_router.put("/preferences", summary="Set channels for some kinds")
def set_preferences(
    plat: PlatformDep, actor: ActorDep, body: list[PreferenceIn]
) -> list[PreferenceOut]:
    return call(plat, notes.set_preferences, actor=actor, preferences=body)


@notifications_router.post("/{notification_id}/read", summary="Mark one notification read")
def mark_read(plat: PlatformDep, actor: ActorDep, notification_id: uuid.UUID) -> NotificationOut:
    return call(plat, notes.mark_read, actor=actor, notification_id=notification_id)


routers = [webhooks_router, notifications_router]
