"""Notifications: who gets what per event kind, preferences, email via SMTP, rate limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.notify.cli import notifications as notifications_cli
from platform_sdk.notify.dispatch import Dispatcher
from platform_sdk.notify.models import Notification, NotificationStatus
from platform_sdk.notify.routes import routers
from platform_sdk.notify.schemas import PreferenceIn
from platform_sdk.notify.sdk import NotificationManager
from platform_sdk.notify.services import notifications as svc
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.notify.conftest import Mailbox, Receiver, Team, call, emit, mr_event
from tests.plugins.platforms import People


def _inbox(plat: Platform, team: Team, who: str) -> list[str]:
    actor = getattr(team, who)
    page = call(plat, svc.list_notifications, actor, page=PageParams())
    return [n.kind for n in page.items]


def test_who_is_notified_for_each_event_kind(plat: Platform, team: Team) -> None:
    emit(plat, "events.merge_request", mr_event(team, "opened", team.dev))
    # alice (project admin) writes; dev is the actor; the viewer cannot write
    assert _inbox(plat, team, "alice") == ["mr.opened"]
    assert _inbox(plat, team, "dev") == []
    assert _inbox(plat, team, "viewer") == []
    emit(plat, "events.merge_request", mr_event(team, "reviewed", team.alice, verdict="approved"))
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    emit(plat, "events.merge_request", mr_event(team, "merged", team.dev))  # own action: nothing
    assert _inbox(plat, team, "dev") == ["mr.merged", "mr.reviewed"]
    base = {"project_id": str(team.app_id), "project": team.app}
    emit(
        plat,
        "events.issue",
        {
            **base,
            "type": "issue",
            "action": "assigned",
            "actor": "alice",
            "actor_id": str(team.alice.user_id),
            "number": 3,
            "title": "Bug",
            "assignee": "viewer",
            "assignee_id": str(team.viewer.user_id),
        },
    )
    assert _inbox(plat, team, "viewer") == ["issue.assigned"]
    emit(
        plat,
        "events.pipeline",
        {
            **base,
            "type": "pipeline",
            "action": "failed",
            "number": 9,
            "triggered_by_id": str(team.bob.user_id),
        },
    )
    emit(
        plat,
        "events.agent",
        {
            **base,
            "type": "agent",
            "action": "finished",
            "started_by_id": str(team.bob.user_id),
            "session_id": "s1",
        },
    )
    assert _inbox(plat, team, "bob") == ["agent.finished", "pipeline.failed"]
    emit(plat, "events.alert", {**base, "type": "alert", "action": "firing", "rule": "5xx"})
    assert _inbox(plat, team, "alice")[0] == "alert.firing"
    assert "alert.firing" in _inbox(plat, team, "dev")  # developers manage alerts
    assert "alert.firing" not in _inbox(plat, team, "viewer")
    (note,) = call(plat, svc.list_notifications, team.bob, page=PageParams(), unread=True).items[:1]
    assert note.link
    assert note.link.startswith("http://127.0.0.1:8080/alice/app/")


def test_unread_count_mark_read_and_isolation(plat: Platform, team: Team) -> None:
    emit(plat, "events.merge_request", mr_event(team, "reviewed", team.alice))
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    assert call(plat, svc.unread_count, team.dev).unread == 2
    first = call(plat, svc.list_notifications, team.dev, page=PageParams()).items[0]
    with pytest.raises(NotFound):
        call(plat, svc.mark_read, team.bob, notification_id=first.id)
    assert call(plat, svc.mark_read, team.dev, notification_id=first.id).read_at is not None
    assert call(plat, svc.unread_count, team.dev).unread == 1
    assert call(plat, svc.mark_all_read, team.dev).marked == 1
    assert call(plat, svc.list_notifications, team.dev, page=PageParams(), unread=True).total == 0


def test_preferences_turn_a_kind_off_or_send_email(
    plat: Platform, team: Team, smtp: Mailbox
) -> None:
    settings = plat.settings.model_copy(update={"smtp_url": smtp.url, "smtp_from": "p@x.test"})
    plat.settings = plat.runtime.settings = settings
    call(
        plat,
        svc.set_preferences,
        team.dev,
        preferences=[
            PreferenceIn(kind="mr.reviewed", channels=[]),
            PreferenceIn.model_validate({"kind": "mr.merged", "channels": ["email", "inbox"]}),
        ],
    )
    prefs = {p.kind: p for p in call(plat, svc.get_preferences, team.dev)}
    assert prefs["mr.reviewed"].channels == []
    assert prefs["issue.assigned"].default is True
    emit(plat, "events.merge_request", mr_event(team, "reviewed", team.alice))
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    assert _inbox(plat, team, "dev") == ["mr.merged"]
    assert smtp.messages == []  # nothing is sent in the request path
    assert Dispatcher(plat).run_once() == 1
    (message,) = smtp.messages
    assert message["To"] == "dev@example.test"
    assert message["From"] == "p@x.test"
    assert message["Subject"] == "[alice/app] !7 merged: Fix login"
    with plat.session() as db:
        row = db.scalars(select(Notification).where(Notification.channel == "email")).one()
        assert row.status == NotificationStatus.SENT


def test_webhook_channel_and_rate_limit(plat: Platform, team: Team, receiver: Receiver) -> None:
    with pytest.raises(ValidationFailed):
        call(
            plat,
            svc.set_preferences,
            team.dev,
            preferences=[
                PreferenceIn.model_validate({"kind": "mr.merged", "channels": ["webhook"]})
            ],
        )
    call(
        plat,
        svc.set_preferences,
        team.dev,
        preferences=[
            PreferenceIn.model_validate(
                {"kind": "mr.merged", "channels": ["webhook"], "webhook_url": receiver.url}
            )
        ],
    )
    for _ in range(5):
        emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    assert Dispatcher(plat, per_minute=3).run_once() == 5
    assert len(receiver.requests) == 3
    assert json.loads(receiver.requests[0][1])["kind"] == "mr.merged"
    with plat.session() as db:
        statuses = sorted(s.value for s in db.scalars(select(Notification.status)))
    assert statuses == ["sent", "sent", "sent", "skipped", "skipped"]
    assert Dispatcher(plat).run_once() == 0


def test_webhook_channel_url_is_checked(strict: Platform, team: Team) -> None:
    with pytest.raises(ValidationFailed):
        call(
            strict,
            svc.set_preferences,
            team.dev,
            preferences=[
                PreferenceIn.model_validate(
                    {
                        "kind": "mr.merged",
                        "channels": ["webhook"],
                        "webhook_url": "http://10.1.2.3/",
                    }
                )
            ],
        )


def test_http_cli_and_sdk(plat: Platform, team: Team, people: People) -> None:
    emit(plat, "events.merge_request", mr_event(team, "reviewed", team.alice))
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    app = create_app(plat)
    for router in routers:
        app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        dev = people.auth(people.token(team.dev))
        assert client.get("/api/notifications/unread_count", headers=dev).json() == {"unread": 2}
        page = client.get("/api/notifications?unread=true", headers=dev).json()
        assert page["total"] == 2
        nid = page["items"][0]["id"]
        assert client.post(f"/api/notifications/{nid}/read", headers=dev).json()["read_at"]
        assert client.post("/api/notifications/read_all", headers=dev).json() == {"marked": 1}
        r = client.put(
            "/api/notifications/preferences",
            headers=dev,
            json=[{"kind": "mr.merged", "channels": ["inbox", "email"]}],
        )
        assert r.status_code == 200, r.text
        got = {
            p["kind"]: p for p in client.get("/api/notifications/preferences", headers=dev).json()
        }
        assert got["mr.merged"]["channels"] == ["inbox", "email"]
        assert (
            client.put(
                "/api/notifications/preferences",
                headers=dev,
                json=[{"kind": "nope", "channels": []}],
            ).status_code
            == 422
        )
        assert client.get("/api/notifications").status_code == 401

    emit(plat, "events.merge_request", mr_event(team, "reviewed", team.alice))
    obj: dict[str, Any] = {"settings": plat.settings, "as_user": "dev"}
    run = CliRunner()
    listed = json.loads(
        run.invoke(notifications_cli, ["list", "--unread", "--json"], obj=obj).stdout
    )
    assert [n["kind"] for n in listed] == ["mr.reviewed"]
    res = run.invoke(notifications_cli, ["read", "--all", "--json"], obj=obj)
    assert json.loads(res.stdout) == {"marked": 1}
    res = run.invoke(notifications_cli, ["prefs", "--set", "mr.opened", "--json"], obj=obj)
    prefs = {p["kind"]: p for p in json.loads(res.stdout)}
    assert prefs["mr.opened"]["channels"] == []
    assert run.invoke(notifications_cli, ["read"], obj=obj).exit_code == 2

    with Platform(plat.settings, user="dev") as as_dev:
        manager = NotificationManager(as_dev)
        emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
        assert manager.unread_count() == 1
        (note,) = list(manager.list(unread=True))
        assert note.mark_read().read_at is not None
        assert manager.unread_count() == 0
        # the email copy (preference set over HTTP above) fails: no relay is configured
        assert manager.deliver_pending() == {"webhooks": 0, "notifications": 1}
        manager.set_preference("mr.merged", [])
        assert manager.deliver_pending() == {"webhooks": 0, "notifications": 0}
    with plat.session() as db:
        row = db.scalars(select(Notification).where(Notification.channel == "email")).one()
        assert row.status == NotificationStatus.FAILED


def test_failed_sends_are_retried_with_backoff_then_given_up(
    plat: Platform, team: Team, receiver: Receiver
) -> None:
    from datetime import timedelta

    from platform_sdk.core.types import utcnow
    from platform_sdk.notify.dispatch import BACKOFF, MAX_ATTEMPTS

    call(
        plat,
        svc.set_preferences,
        team.dev,
        preferences=[
            PreferenceIn.model_validate(
                {"kind": "mr.merged", "channels": ["webhook"], "webhook_url": receiver.url}
            )
        ],
    )
    receiver.script = [503, 500]  # fails twice, then succeeds
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    now = utcnow()
    dispatcher = Dispatcher(plat)

    def row() -> Notification:
        with plat.session() as db:
            return db.scalars(select(Notification).where(Notification.channel == "webhook")).one()

    assert dispatcher.run_once(now) == 1
    first = row()
    assert (first.status, first.attempts, first.error) == ("pending", 1, "HTTP 503")
    assert first.next_attempt_at is not None
    assert first.next_attempt_at - now == BACKOFF
    assert dispatcher.run_once(now + BACKOFF / 2) == 0  # not due yet
    assert dispatcher.run_once(now + BACKOFF) == 1
    assert (row().attempts, row().error) == (2, "HTTP 500")
    assert dispatcher.run_once(now + BACKOFF * 3) == 1
    done = row()
    assert (done.status, done.attempts, done.error) == ("sent", 3, None)
    assert len(receiver.requests) == 3

    # a 4xx is not retried; a target that keeps failing is given up after MAX_ATTEMPTS
    receiver.script = [404] + [503] * (MAX_ATTEMPTS + 2)
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    later = now + timedelta(hours=1)
    assert dispatcher.run_once(later) == 1
    with plat.session() as db:
        latest = db.scalars(
            select(Notification).where(Notification.status == NotificationStatus.FAILED)
        ).one()
    assert (latest.attempts, latest.error) == (1, "HTTP 404")
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    for i in range(MAX_ATTEMPTS + 1):
        dispatcher.run_once(later + timedelta(hours=i + 1))
    with plat.session() as db:
        failed = db.scalars(
            select(Notification).where(Notification.status == NotificationStatus.FAILED)
        ).all()
    assert sorted(n.attempts for n in failed) == [1, MAX_ATTEMPTS]
