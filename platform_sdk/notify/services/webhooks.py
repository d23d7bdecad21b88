"""Webhook services: create, list, get, update, delete, rotate the secret, test, deliveries.

Authorization goes through :func:`~platform_sdk.projects.access.access_project`: changes need
``project:write``, reads need read access to the project (a project the actor cannot see is
``NotFound``, and so is a webhook of another project). The signing secret is generated here,
stored with the secrets engine (:mod:`platform_sdk.secrets.system`, name ``WEBHOOK_<hex id>``)
and returned only in the answer to ``create_webhook`` and ``rotate_webhook_secret``. Target
URLs pass :func:`~platform_sdk.notify.ssrf.check_target`. Nothing here sends anything: ``test``
and ``redeliver`` queue a row that the delivery worker sends.
"""

from __future__ import annotations

import secrets as _random
import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound
from platform_sdk.identity.models import User
from platform_sdk.notify.models import DeliveryStatus, Webhook, WebhookDelivery
from platform_sdk.notify.outbox import queue_delivery
from platform_sdk.notify.schemas import DeliveryOut, WebhookCreate, WebhookOut, WebhookUpdate
from platform_sdk.notify.ssrf import check_target
from platform_sdk.projects.access import access_project, project_label
from platform_sdk.projects.models import Project
from platform_sdk.secrets.models import Secret
from platform_sdk.secrets.system import store_system_secret

__all__ = [
    "create_webhook",
    "delete_webhook",
    "get_delivery",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "redeliver",
    "rotate_webhook_secret",
    "send_test_delivery",
    "update_webhook",
]

ProjectRef = str | uuid.UUID


def _secret_name(webhook_id: uuid.UUID) -> str:
    return f"WEBHOOK_{webhook_id.hex}"


def _out(db: Session, hook: Webhook, label: str, secret: str | None = None) -> WebhookOut:
    creator = None
    if hook.created_by_id is not None:
        creator = db.scalar(select(User.username).where(User.id == hook.created_by_id))
    return WebhookOut(
        id=hook.id,
        project=label,
        url=hook.url,
        events=list(hook.events or []),
        active=hook.is_active,
        content_type=hook.content_type,
        created_by=creator,
        created_at=hook.created_at,
        updated_at=hook.updated_at,
        secret=secret,
    )


def _hook(db: Session, project: Project, webhook_id: uuid.UUID) -> Webhook:
    hook = db.get(Webhook, webhook_id)
    if hook is None or hook.project_id != project.id:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def _allow_private(db: Session) -> bool:
    return runtime_of(db).settings.webhook_allow_private


def _new_secret(db: Session, project: Project, hook: Webhook) -> str:
    value = "whsec_" + _random.token_urlsafe(32)
    row = store_system_secret(db, _secret_name(hook.id), value, project.id)
    hook.secret_id = row.id
    return value


def create_webhook(
    db: Session, *, actor: Actor, project: ProjectRef, body: WebhookCreate
) -> WebhookOut:
    """Add a webhook; the answer holds the signing secret, shown this once."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    url = check_target(body.url, allow_private=_allow_private(db), saving=True)
    hook = Webhook(
        id=uuid.uuid4(),
        project_id=proj.id,
        url=url,
        events=list(body.events),
        is_active=body.active,
        created_by_id=actor.user_id,
    )
    db.add(hook)
    db.flush()
    secret = _new_secret(db, proj, hook)
    label = project_label(db, proj)
    audit.record(
        db,
        actor,
        "webhook.create",
        target_type="webhook",
        target_id=hook.id,
        project_id=proj.id,
        via=via,
        details={"url": url, "events": hook.events, "project": label},
    )
    db.flush()
    return _out(db, hook, label, secret)


def list_webhooks(
    db: Session, *, actor: Actor, project: ProjectRef, page: PageParams
) -> Page[WebhookOut]:
    """The project's webhooks, oldest first (no secrets)."""
    proj, _ = access_project(db, actor, project)
    label = project_label(db, proj)
    stmt = (
        select(Webhook)
        .where(Webhook.project_id == proj.id)
        .order_by(Webhook.created_at, Webhook.id)
    )
    return paginate(db, stmt, page, lambda h: _out(db, h, label))


def get_webhook(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID
) -> WebhookOut:
    proj, _ = access_project(db, actor, project)
    return _out(db, _hook(db, proj, webhook_id), project_label(db, proj))


def update_webhook(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID, body: WebhookUpdate
) -> WebhookOut:
    """Change the URL, events or active flag (fields left ``None`` stay)."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    hook = _hook(db, proj, webhook_id)
    changes: dict[str, object] = {}
    if body.url is not None:
        hook.url = check_target(body.url, allow_private=_allow_private(db), saving=True)
        changes["url"] = hook.url
    if body.events is not None:
        hook.events = list(body.events)
        changes["events"] = hook.events
    if body.active is not None:
        hook.is_active = body.active
        changes["active"] = body.active
    hook.updated_at = utcnow()
    label = project_label(db, proj)
    audit.record(
        db,
        actor,
        "webhook.update",
        target_type="webhook",
        target_id=hook.id,
        project_id=proj.id,
        via=via,
        details={"changes": changes, "project": label},
    )
    db.flush()
    return _out(db, hook, label)


def delete_webhook(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID
) -> None:
    """Remove the webhook, its deliveries and its signing secret."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    hook = _hook(db, proj, webhook_id)
    db.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    db.execute(
        delete(Secret).where(Secret.project_id == proj.id, Secret.name == _secret_name(hook.id)),
        execution_options={"synchronize_session": False},
    )
    audit.record(
        db,
        actor,
        "webhook.delete",
        target_type="webhook",
        target_id=hook.id,
        project_id=proj.id,
        via=via,
        details={"url": hook.url, "project": project_label(db, proj)},
    )
    db.delete(hook)
    db.flush()


def rotate_webhook_secret(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID
) -> WebhookOut:
    """Replace the signing secret; the answer holds the new one, shown this once.

    Deliveries sent after the commit are signed with the new secret; older versions of the
    secret are marked deleted.
    """
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    hook = _hook(db, proj, webhook_id)
    old = hook.secret_id
    secret = _new_secret(db, proj, hook)
    if old is not None:
        old_row = db.get(Secret, old)
        if old_row is not None:
            old_row.deleted_at = utcnow()
    hook.updated_at = utcnow()
    label = project_label(db, proj)
    audit.record(
        db,
        actor,
        "webhook.rotate_secret",
        target_type="webhook",
        target_id=hook.id,
        project_id=proj.id,
        via=via,
        details={"project": label},
    )
    db.flush()
    return _out(db, hook, label, secret)


def send_test_delivery(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID
) -> DeliveryOut:
    """Queue a ``ping`` delivery (sent by the worker even to an inactive webhook)."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    hook = _hook(db, proj, webhook_id)
    label = project_label(db, proj)
    row = queue_delivery(
        db,
        hook,
        "ping",
        {
            "type": "ping",
            "webhook_id": hook.id,
            "project_id": proj.id,
            "project": label,
            "actor": actor.username,
            "actor_id": actor.user_id,
            "events": list(hook.events or []),
        },
    )
    audit.record(
        db,
        actor,
        "webhook.test",
        target_type="webhook",
        target_id=hook.id,
        project_id=proj.id,
        via=via,
        details={"delivery": str(row.delivery_uuid), "project": label},
    )
    db.flush()
    return DeliveryOut.model_validate(row)


def list_deliveries(
    db: Session,
    *,
    actor: Actor,
    project: ProjectRef,
    webhook_id: uuid.UUID,
    page: PageParams,
    status: DeliveryStatus | None = None,
) -> Page[DeliveryOut]:
    """The delivery log of one webhook, newest first."""
    proj, _ = access_project(db, actor, project)
    hook = _hook(db, proj, webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return paginate(db, stmt, page, DeliveryOut.model_validate)


def get_delivery(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    proj, _ = access_project(db, actor, project)
    return DeliveryOut.model_validate(_delivery(db, _hook(db, proj, webhook_id), delivery_id))


def _delivery(db: Session, hook: Webhook, delivery_id: uuid.UUID) -> WebhookDelivery:
    row = db.get(WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != hook.id:
        raise NotFound(f"delivery {delivery_id} not found")
    return row


def redeliver(
    db: Session, *, actor: Actor, project: ProjectRef, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    """Queue the same event and payload again, as a new delivery with a new uuid."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    hook = _hook(db, proj, webhook_id)
    original = _delivery(db, hook, delivery_id)
    row = queue_delivery(db, hook, original.event, dict(original.payload))
    audit.record(
        db,
        actor,
        "webhook.redeliver",
        target_type="webhook",
        target_id=hook.id,
        project_id=proj.id,
        via=via,
        details={"of": str(original.delivery_uuid), "delivery": str(row.delivery_uuid)},
    )
    db.flush()
    return DeliveryOut.model_validate(row)
