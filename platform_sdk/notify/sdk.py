"""Webhooks and notifications as SDK objects.

::

    hook = proj.webhooks.create("https://ci.example.com/hook", events=["push", "merge_request"])
    hook.secret                      # shown once, here (and after rotate_secret())
    hook.test(); p.notifications.deliver_pending()   # no server running: send now
    [(d.status, d.attempts, d.response_code) for d in hook.deliveries]
    p.notifications.unread_count(); p.notifications.mark_all_read()
    p.notifications.set_preference("mr.merged", ["inbox", "email"])

``proj.webhooks`` is :class:`WebhookManager` (the lead hangs it on ``Project``);
``p.notifications`` is :class:`NotificationManager`.
"""

from __future__ import annotations

import builtins
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.notify.schemas import (
    DeliveryOut,
    NotificationOut,
    PreferenceIn,
    PreferenceOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
)
from platform_sdk.notify.services import notifications as notes
from platform_sdk.notify.services import webhooks as hooks
from platform_sdk.sdkbase import Listing, Manager, Resource

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = [
    "Delivery",
    "DeliveryManager",
    "Notification",
    "NotificationManager",
    "Webhook",
    "WebhookManager",
]


class Delivery(Resource[DeliveryOut]):
    """One delivery of an event to a webhook, with its latest outcome."""

    _manager: DeliveryManager

    def redeliver(self) -> Delivery:
        """Queue the same payload again (a new delivery)."""
        return self._manager.redeliver(self._data.id)

    def __repr__(self) -> str:
        d = self._data
        return f"<Delivery {d.event} {d.status} attempts={d.attempts} code={d.response_code}>"


class DeliveryManager(Manager[Delivery]):
    resource = Delivery

    def __init__(self, platform: Platform, project: str, webhook_id: uuid.UUID) -> None:
        super().__init__(platform)
        self.project = project
        self.webhook_id = webhook_id

    def list(self) -> Listing[Delivery]:
        return self._listing(
            hooks.list_deliveries, project=self.project, webhook_id=self.webhook_id
        )

    def __iter__(self) -> Any:
        return iter(self.list())

    def __len__(self) -> int:
        return self.list().total

    def redeliver(self, delivery_id: uuid.UUID) -> Delivery:
        out = self._call(
            hooks.redeliver,
            project=self.project,
            webhook_id=self.webhook_id,
            delivery_id=delivery_id,
        )
        return self._wrap(out)


class Webhook(Resource[WebhookOut]):
    """A project's webhook; ``secret`` is set only right after creation or rotation."""

    _label: ClassVar[str] = "url"
    _manager: WebhookManager

    @property
    def _ids(self) -> dict[str, Any]:
        return {"project": self._manager.project, "webhook_id": self._data.id}

    def update(
        self, *, url: str | None = None, events: list[str] | None = None, active: bool | None = None
    ) -> Webhook:
        body = WebhookUpdate(url=url, events=events, active=active)
        self._data = self._manager._call(hooks.update_webhook, body=body, **self._ids)
        return self

    def delete(self) -> None:
        self._manager._call(hooks.delete_webhook, **self._ids)

    def test(self) -> Delivery:
        """Queue a ``ping`` delivery."""
        out = self._manager._call(hooks.send_test_delivery, **self._ids)
        return self.deliveries._wrap(out)

    def rotate_secret(self) -> str:
        """A new signing secret (returned, and on ``self.secret``, this once)."""
        self._data = self._manager._call(hooks.rotate_webhook_secret, **self._ids)
        assert self._data.secret is not None
        return self._data.secret

    @property
    def deliveries(self) -> DeliveryManager:
        return DeliveryManager(self.platform, self._manager.project, self._data.id)


class WebhookManager(Manager[Webhook]):
    """The webhooks of one project."""

    resource = Webhook

    def __init__(self, platform: Platform, project: str | uuid.UUID) -> None:
        super().__init__(platform)
        self.project = str(project)

    def create(self, url: str, *, events: list[str] | None = None, active: bool = True) -> Webhook:
        body = WebhookCreate(url=url, events=events or ["*"], active=active)
        return self._wrap(self._call(hooks.create_webhook, project=self.project, body=body))

    def list(self) -> Listing[Webhook]:
        return self._listing(hooks.list_webhooks, project=self.project)

    def get(self, webhook_id: uuid.UUID | str) -> Webhook:
        out = self._call(
            hooks.get_webhook, project=self.project, webhook_id=uuid.UUID(str(webhook_id))
        )
        return self._wrap(out)

    def __repr__(self) -> str:
        return f"<WebhookManager {self.project}>"


class Notification(Resource[NotificationOut]):
    _label: ClassVar[str] = "title"
    _manager: NotificationManager

    def mark_read(self) -> Notification:
        self._data = self._manager._call(notes.mark_read, notification_id=self._data.id)
        return self


class NotificationManager(Manager[Notification]):
    """The acting user's notifications and preferences; and ``deliver_pending``."""

    resource = Notification

    def list(self, *, unread: bool = False) -> Listing[Notification]:
        return self._listing(notes.list_notifications, unread=unread)

    def unread_count(self) -> int:
        return int(self._call(notes.unread_count).unread)

    def mark_read(self, notification_id: uuid.UUID | str) -> Notification:
        out = self._call(notes.mark_read, notification_id=uuid.UUID(str(notification_id)))
        return self._wrap(out)

    def mark_all_read(self) -> int:
        return int(self._call(notes.mark_all_read).marked)

    def preferences(self) -> builtins.list[PreferenceOut]:
        out: builtins.list[PreferenceOut] = self._call(notes.get_preferences)
        return out

    def set_preference(
        self, kind: str, channels: builtins.list[str], *, webhook_url: str | None = None
    ) -> builtins.list[PreferenceOut]:
        """Channels (``inbox``, ``email``, ``webhook``) for ``kind``; ``[]`` turns it off."""
        pref = PreferenceIn.model_validate(
            {"kind": kind, "channels": channels, "webhook_url": webhook_url}
        )
        out: builtins.list[PreferenceOut] = self._call(notes.set_preferences, preferences=[pref])
        return out

    def deliver_pending(self) -> dict[str, int]:
        """Run the webhook delivery worker and the notification dispatcher once, here.

        For notebooks and scripts where no server runs the background workers; sends what is
        due now (retries wait for their backoff).
        """
        from platform_sdk.notify.delivery import DeliveryWorker
        from platform_sdk.notify.dispatch import Dispatcher

        return {
            "webhooks": DeliveryWorker(self.platform).run_once(),
            "notifications": Dispatcher(self.platform).run_once(),
        }
