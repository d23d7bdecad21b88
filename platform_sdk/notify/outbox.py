"""Queueing webhook deliveries: which webhooks an event reaches, and the delivery row.

Shared by the transactional subscribers (:mod:`platform_sdk.notify.subscribers`) and the
``test``/``redeliver`` services, so a delivery row looks the same however it was queued. The
payload is stored after a JSON round trip (UUIDs and datetimes become strings), so what the
sender signs later is exactly what was queued.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.types import utcnow
from platform_sdk.notify.models import DeliveryStatus, Webhook, WebhookDelivery

__all__ = ["jsonable", "matches", "queue_delivery", "webhooks_for"]


def jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` as plain JSON values."""
    out: dict[str, Any] = json.loads(json.dumps(payload, default=str))
    return out


def matches(subscribed: list[str], event_type: str, action: str | None) -> bool:
    """Whether a webhook subscribed to ``subscribed`` wants ``event_type`` (and ``action``)."""
    return any(
        name == "*"
        or name == event_type
        or (action is not None and name == f"{event_type}.{action}")
        for name in subscribed
    )


def webhooks_for(
    db: Session, project_id: uuid.UUID, event_type: str, action: str | None
) -> list[Webhook]:
    """Active webhooks of the project that subscribe to this event."""
    hooks = db.scalars(
        select(Webhook).where(Webhook.project_id == project_id, Webhook.is_active.is_(True))
    ).all()
    return [h for h in hooks if matches(list(h.events or []), event_type, action)]


def queue_delivery(
    db: Session, webhook: Webhook, event: str, payload: dict[str, Any]
) -> WebhookDelivery:
    """Add a pending delivery of ``payload`` to ``webhook``, due now, with a fresh uuid."""
    now = utcnow()
    row = WebhookDelivery(
        id=uuid.uuid4(),
        webhook_id=webhook.id,
        event=event,
        delivery_uuid=uuid.uuid4(),
        payload=jsonable(payload),
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(row)
    return row
