"""Transactional subscribers: domain events become webhook deliveries and notifications.

:func:`install` registers :func:`on_event` on the seven event channels with
``runtime.subscribe``, so it runs *inside* the transaction that emits the event: the delivery
and notification rows commit or roll back with the change that caused them (a transactional
outbox). Nothing is sent here; the delivery worker (:mod:`~platform_sdk.notify.delivery`) and
the dispatcher (:mod:`~platform_sdk.notify.dispatch`) send later, outside any request.

Webhooks: every active webhook of the event's project subscribed to its type (or
``type.action``, or ``*``) gets one pending delivery whose payload is the event.

Notifications (never to the actor about their own action; inactive users get none):

=====================  =============================  =========================================
event                  kind                           recipients
=====================  =============================  =========================================
merge_request opened   ``mr.opened``                  users with a *project binding* granting
                                                      ``project:write`` there (global roles
                                                      such as site admins are not spammed)
merge_request reviewed ``mr.reviewed``                the MR author
merge_request merged   ``mr.merged``                  the MR author
issue assigned         ``issue.assigned``             the assignee
pipeline failed        ``pipeline.failed``            ``triggered_by_id``
agent finished         ``agent.finished``             ``started_by_id``
alert firing           ``alert.firing``               users with a project binding granting
                                                      ``alert:manage`` there (global rules:
                                                      the rule's author)
=====================  =============================  =========================================

Each recipient's preference for the kind picks the channels (none stored: the inbox; an empty
list: nothing). Inbox rows are ``sent`` at once; email and webhook rows are ``pending`` for the
dispatcher.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Perm
from platform_sdk.core.runtime import Runtime, runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.identity.models import RolePermission, User, UserRole
from platform_sdk.notify.models import (
    Notification,
    NotificationChannel,
    NotificationPreference,
    NotificationStatus,
)
from platform_sdk.notify.outbox import queue_delivery, webhooks_for

__all__ = ["CHANNELS", "install", "on_event"]

log = logging.getLogger(__name__)

CHANNELS = (
    "events.push",
    "events.issue",
    "events.merge_request",
    "events.pipeline",
    "events.deploy",
    "events.agent",
    "events.alert",
)
_INSTALLED = "notify.subscribers"


def install(runtime: Runtime) -> None:
    """Subscribe to the event channels (once per runtime; calling again does nothing)."""
    with runtime._lock:
        if runtime.extensions.get(_INSTALLED):
            return
        runtime.extensions[_INSTALLED] = True
    for channel in CHANNELS:
        runtime.subscribe(channel, _handler(channel))


def _handler(channel: str) -> Callable[[Session, dict[str, Any]], None]:
    event_type = channel.removeprefix("events.")

    def handle(db: Session, payload: dict[str, Any]) -> None:
        on_event(db, event_type, payload)

    return handle


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def on_event(db: Session, event_type: str, payload: dict[str, Any]) -> None:
    """Queue the deliveries and notifications of one event, in ``db``'s transaction."""
    event_type = str(payload.get("type") or event_type)
    action = payload.get("action")
    project_id = _uuid(payload.get("project_id"))
    if project_id is not None and event_type != "alert":
        for hook in webhooks_for(db, project_id, event_type, action):
            queue_delivery(db, hook, event_type, payload)
    message = _message(db, event_type, action, payload, project_id)
    if message is not None:
        _notify(db, message, payload, project_id)


@dataclass
class _Message:
    kind: str
    recipients: set[uuid.UUID]
    title: str
    body: str
    link: str | None


def _bound_with(db: Session, project_id: uuid.UUID | None, perm: Perm) -> set[uuid.UUID]:
    if project_id is None:
        return set()
    rows = db.scalars(
        select(UserRole.user_id)
        .join(RolePermission, RolePermission.role_id == UserRole.role_id)
        .where(UserRole.project_id == project_id, RolePermission.permission == perm.value)
    ).all()
    return set(rows)


def _message(
    db: Session,
    event_type: str,
    action: Any,
    p: dict[str, Any],
    project_id: uuid.UUID | None,
) -> _Message | None:
    base = runtime_of(db).settings.base_url
    project = str(p.get("project") or project_id or "")
    number = p.get("number")
    title = str(p.get("title") or "")
    actor = str(p.get("actor") or "someone")
    one = {x for x in (_uuid(p.get("author_id")),) if x}
    if event_type == "merge_request" and action in ("opened", "reviewed", "merged"):
        link = f"{base}/{project}/merge_requests/{number}"
        if action == "opened":
            return _Message(
                "mr.opened",
                _bound_with(db, project_id, Perm.PROJECT_WRITE),
                f"[{project}] !{number} opened: {title}",
                f"{actor} opened merge request !{number} "
                f"({p.get('source_branch')} → {p.get('target_branch')}).",
                link,
            )
        verdict = f" ({p['verdict']})" if p.get("verdict") else ""
        return _Message(
            f"mr.{action}",
            one,
            f"[{project}] !{number} {action}{verdict}: {title}",
            f"{actor} {action} your merge request !{number}{verdict}.",
            link,
        )
    if event_type == "issue" and action == "assigned":
        assignee = {x for x in (_uuid(p.get("assignee_id")),) if x}
        return _Message(
            "issue.assigned",
            assignee,
            f"[{project}] #{number} assigned to you: {title}",
            f"{actor} assigned issue #{number} to you.",
            f"{base}/{project}/issues/{number}",
        )
    if event_type == "pipeline" and action == "failed":
        who = {x for x in (_uuid(p.get("triggered_by_id")),) if x}
        run = p.get("number") or p.get("run_id") or p.get("id")
        return _Message(
            "pipeline.failed",
            who,
            f"[{project}] pipeline {run} failed" + (f" on {p['ref']}" if p.get("ref") else ""),
            f"The pipeline you triggered failed. {p.get('error') or ''}".strip(),
            f"{base}/{project}/pipelines/{run}",
        )
    if event_type == "agent" and action == "finished":
        who = {x for x in (_uuid(p.get("started_by_id")),) if x}
        session = p.get("session_id") or p.get("id")
        return _Message(
            "agent.finished",
            who,
            f"[{project}] agent session {session} finished",
            f"The agent session you started finished: {p.get('status') or 'done'}.",
            f"{base}/{project}/agents/{session}",
        )
    if event_type == "alert" and action == "firing":
        name = p.get("rule") or p.get("name") or p.get("title") or "alert"
        # a global rule belongs to no project: its author hears about it
        recipients = (
            _bound_with(db, project_id, Perm.ALERT_MANAGE)
            if project_id is not None
            else {x for x in (_uuid(p.get("created_by_id")),) if x}
        )
        return _Message(
            "alert.firing",
            recipients,
            f"[{project or 'global'}] alert firing: {name}",
            str(p.get("summary") or p.get("message") or f"Alert {name} is firing."),
            str(p.get("url") or (f"{base}/{project}/alerts" if project else f"{base}/alerts")),
        )
    return None


def _notify(
    db: Session, msg: _Message, payload: dict[str, Any], project_id: uuid.UUID | None
) -> None:
    actor_id = _uuid(payload.get("actor_id"))
    recipients = msg.recipients - {actor_id} if actor_id else set(msg.recipients)
    if not recipients:
        return
    active = set(
        db.scalars(select(User.id).where(User.id.in_(recipients), User.is_active.is_(True)))
    )
    prefs = {
        r.user_id: r
        for r in db.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id.in_(active), NotificationPreference.kind == msg.kind
            )
        )
    }
    now = utcnow()
    for user_id in sorted(active):
        pref = prefs.get(user_id)
        channels = list(pref.channels) if pref is not None else [NotificationChannel.INBOX.value]
        for channel in dict.fromkeys(channels):
            inbox = channel == NotificationChannel.INBOX.value
            db.add(
                Notification(
                    id=uuid.uuid4(),
                    user_id=user_id,
                    project_id=project_id,
                    kind=msg.kind,
                    title=msg.title[:255],
                    body=msg.body,
                    link=msg.link,
                    channel=NotificationChannel(channel),
                    status=NotificationStatus.SENT if inbox else NotificationStatus.PENDING,
                    created_at=now,
                    sent_at=now if inbox else None,
                )
            )
