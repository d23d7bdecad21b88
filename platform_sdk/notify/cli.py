"""``platform webhooks …`` and ``platform notifications …`` over the SDK.

``webhooks create`` prints the signing secret once (stderr note says so); no other verb shows
it. ``webhooks deliver`` runs the delivery worker and dispatcher once, for setups without a
running server.
"""

from __future__ import annotations

from typing import Any

import click

from platform_sdk.clikit import PlatformGroup, emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.notify.schemas import WEBHOOK_EVENTS
from platform_sdk.notify.sdk import NotificationManager, Webhook, WebhookManager

__all__ = ["notifications", "webhooks"]


def _hook_row(hook: Webhook) -> dict[str, Any]:
    data = hook.to_dict()
    data.pop("secret", None)
    return {k: data[k] for k in ("id", "url", "events", "active", "created_by", "created_at")}


@click.group(cls=PlatformGroup)
def webhooks() -> None:
    """Project webhooks: signed HTTP deliveries of push, merge request, issue … events."""


@webhooks.command("list")
@click.argument("project")
@json_option
def list_(project: str, as_json: bool) -> None:
    """List the webhooks of PROJECT (owner/name)."""
    with open_platform() as plat:
        rows = [_hook_row(h) for h in WebhookManager(plat, project).list()]
    emit(rows, as_json=as_json)


@webhooks.command("create")
@click.argument("project")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="EVENT",
    help=f"{', '.join(WEBHOOK_EVENTS)}, TYPE.ACTION or '*' (repeatable; default '*').",
)
@click.option("--inactive", is_flag=True, help="Create it switched off.")
@json_option
def create(project: str, url: str, events: tuple[str, ...], inactive: bool, as_json: bool) -> None:
    """Add a webhook to PROJECT that posts to URL; prints the signing secret once."""
    with open_platform() as plat:
        hook = WebhookManager(plat, project).create(
            url, events=list(events) or ["*"], active=not inactive
        )
    emit({**_hook_row(hook), "secret": hook.secret}, as_json=as_json)
    if not as_json:
        click.echo("note: the secret is shown only now; store it with your receiver", err=True)


@webhooks.command("rm")
@click.argument("project")
@click.argument("webhook_id")
def rm(project: str, webhook_id: str) -> None:
    """Remove webhook WEBHOOK_ID of PROJECT."""
    with open_platform() as plat:
        WebhookManager(plat, project).get(webhook_id).delete()
    click.echo(f"deleted webhook {webhook_id}")


@webhooks.command("test")
@click.argument("project")
@click.argument("webhook_id")
@json_option
def test(project: str, webhook_id: str, as_json: bool) -> None:
    """Queue a ping delivery to webhook WEBHOOK_ID."""
    with open_platform() as plat:
        delivery = WebhookManager(plat, project).get(webhook_id).test()
    emit(delivery.to_dict(), as_json=as_json)


@webhooks.command("deliveries")
@click.argument("project")
@click.argument("webhook_id")
@json_option
def deliveries(project: str, webhook_id: str, as_json: bool) -> None:
    """The delivery log of webhook WEBHOOK_ID, newest first."""
    keys = ("id", "event", "status", "attempts", "response_code", "duration_ms", "created_at")
    with open_platform() as plat:
        hook = WebhookManager(plat, project).get(webhook_id)
        rows = [d.to_dict() for d in hook.deliveries.list()]
    emit(rows if as_json else [{k: r[k] for k in keys} for r in rows], as_json=as_json)


@webhooks.command("deliver")
@json_option
def deliver(as_json: bool) -> None:
    """Send what is due now (webhooks and notifications), without a server."""
    with open_platform() as plat:
        emit(NotificationManager(plat).deliver_pending(), as_json=as_json)


@click.group(cls=PlatformGroup)
def notifications() -> None:
    """Your notifications (inbox) and where each kind is sent."""


@notifications.command("list")
@click.option("--unread", is_flag=True, help="Only unread ones.")
@json_option
def list_notes(unread: bool, as_json: bool) -> None:
    """Your inbox, newest first."""
    keys = ("id", "kind", "title", "read_at", "created_at")
    with open_platform() as plat:
        rows = [n.to_dict() for n in NotificationManager(plat).list(unread=unread)]
    emit(rows if as_json else [{k: r[k] for k in keys} for r in rows], as_json=as_json)


@notifications.command("read")
@click.argument("notification_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Mark every notification read.")
@json_option
def read(notification_id: str | None, all_: bool, as_json: bool) -> None:
    """Mark NOTIFICATION_ID (or --all) read."""
    if bool(notification_id) == all_:
        raise click.UsageError("give a NOTIFICATION_ID or --all")
    with open_platform() as plat:
        manager = NotificationManager(plat)
        if all_:
            emit({"marked": manager.mark_all_read()}, as_json=as_json)
        else:
            assert notification_id is not None
            emit(manager.mark_read(notification_id).to_dict(), as_json=as_json)


@notifications.command("prefs")
@click.option("--set", "kind", default=None, metavar="KIND", help="The kind to change.")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice(["inbox", "email", "webhook"]),
    help="Channel for --set (repeatable); none turns the kind off.",
)
@click.option("--webhook-url", default=None, help="Where the webhook channel posts.")
@json_option
def prefs(
    kind: str | None, channels: tuple[str, ...], webhook_url: str | None, as_json: bool
) -> None:
    """Show your notification preferences, or change one kind with --set."""
    with open_platform() as plat:
        manager = NotificationManager(plat)
        if kind is None:
            out = manager.preferences()
        else:
            out = manager.set_preference(kind, list(channels), webhook_url=webhook_url)
    emit([p.model_dump(mode="json") for p in out], as_json=as_json)
