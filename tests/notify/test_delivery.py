"""The delivery worker: signature, retries with backoff on an injected clock, the log."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

from platform_sdk.core.pagination import PageParams
from platform_sdk.core.types import utcnow
from platform_sdk.notify.delivery import MAX_ATTEMPTS, DeliveryWorker
from platform_sdk.notify.models import DeliveryStatus
from platform_sdk.notify.schemas import WebhookCreate
from platform_sdk.notify.services import webhooks as wh
from platform_sdk.sdk import Platform
from tests.notify.conftest import Receiver, Team, call, emit, mr_event

PUSH = "events.push"


def _push(team: Team) -> dict[str, object]:
    return {
        "type": "push",
        "project_id": str(team.app_id),
        "project": team.app,
        "actor": "dev",
        "actor_id": str(team.dev.user_id),
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "1" * 40,
        "forced": False,
        "created": False,
        "deleted": False,
        "commits": [],
    }


def test_fails_twice_then_succeeds_on_the_third_attempt_with_a_valid_signature(
    plat: Platform, team: Team, receiver: Receiver
) -> None:
    hook = call(
        plat,
        wh.create_webhook,
        team.alice,
        project=team.app,
        body=WebhookCreate(url=receiver.url, events=["push"]),
    )
    assert hook.secret
    assert hook.secret.startswith("whsec_")
    receiver.script = [500, 500]
    emit(plat, PUSH, _push(team))
    worker = DeliveryWorker(plat)
    now = utcnow()
    assert worker.run_once(now=now) == 1
    assert worker.run_once(now=now) == 0  # not due before the backoff has passed
    now += timedelta(seconds=11)
    assert worker.run_once(now=now) == 1
    assert worker.run_once(now=now + timedelta(seconds=19)) == 0  # second backoff is 20 s
    now += timedelta(seconds=21)
    assert worker.run_once(now=now) == 1
    assert len(receiver.requests) == 3

    log = call(
        plat,
        wh.list_deliveries,
        team.viewer,
        project=team.app,
        webhook_id=hook.id,
        page=PageParams(),
    )
    assert log.total == 1
    delivery = log.items[0]
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    assert delivery.response_code == 200
    assert delivery.response_body == "ok"
    assert delivery.duration_ms is not None
    assert delivery.error is None

    uuids = set()
    for headers, body in receiver.requests:
        expected = hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-platform-signature"] == f"sha256={expected}"
        assert headers["x-platform-event"] == "push"
        uuids.add(headers["x-platform-delivery"])
        assert json.loads(body)["after"] == "1" * 40
    assert uuids == {str(delivery.delivery_uuid)}


def test_gives_up_after_max_attempts_and_records_the_error(
    plat: Platform, team: Team, receiver: Receiver
) -> None:
    hook = call(
        plat,
        wh.create_webhook,
        team.alice,
        project=team.app,
        body=WebhookCreate(url=receiver.url, events=["merge_request.merged"]),
    )
    receiver.script = [503] * MAX_ATTEMPTS
    emit(plat, "events.merge_request", mr_event(team, "opened", team.dev))  # not subscribed
    emit(plat, "events.merge_request", mr_event(team, "merged", team.alice))
    worker = DeliveryWorker(plat)
    now = utcnow()
    for _ in range(MAX_ATTEMPTS):
        assert worker.run_once(now=now) == 1
        now += timedelta(hours=1)
    assert worker.run_once(now=now) == 0
    (row,) = call(
        plat,
        wh.list_deliveries,
        team.alice,
        project=team.app,
        webhook_id=hook.id,
        page=PageParams(),
    ).items
    assert row.status == DeliveryStatus.FAILED
    assert row.attempts == MAX_ATTEMPTS
    assert row.response_code == 503
    assert row.error == "HTTP 503"
    assert row.event == "merge_request"
    assert row.payload["action"] == "merged"


def test_test_delivery_and_redeliver(plat: Platform, team: Team, receiver: Receiver) -> None:
    hook = call(
        plat, wh.create_webhook, team.alice, project=team.app, body=WebhookCreate(url=receiver.url)
    )
    ping = call(plat, wh.send_test_delivery, team.dev, project=team.app, webhook_id=hook.id)
    assert ping.event == "ping"
    assert ping.status == DeliveryStatus.PENDING
    assert DeliveryWorker(plat).run_once() == 1
    again = call(
        plat, wh.redeliver, team.dev, project=team.app, webhook_id=hook.id, delivery_id=ping.id
    )
    assert again.delivery_uuid != ping.delivery_uuid
    assert DeliveryWorker(plat).run_once() == 1
    assert [h["x-platform-event"] for h, _ in receiver.requests] == ["ping", "ping"]
    assert len({h["x-platform-delivery"] for h, _ in receiver.requests}) == 2


def test_delivery_time_check_refuses_a_target_that_became_private(
    strict: Platform, team: Team, receiver: Receiver
) -> None:
    """DNS rebinding: a row queued for a loopback URL is refused when it is sent."""
    settings = strict.settings
    strict.settings = strict.runtime.settings = settings.model_copy(
        update={"webhook_allow_private": True}
    )
    hook = call(
        strict,
        wh.create_webhook,
        team.alice,
        project=team.app,
        body=WebhookCreate(url=receiver.url),
    )
    strict.settings = strict.runtime.settings = settings
    emit(strict, PUSH, _push(team))
    assert DeliveryWorker(strict).run_once() == 1
    (row,) = call(
        strict,
        wh.list_deliveries,
        team.alice,
        project=team.app,
        webhook_id=hook.id,
        page=PageParams(),
    ).items
    assert row.status == DeliveryStatus.RETRYING
    assert row.error
    assert "private" in row.error
    assert receiver.requests == []


def test_run_forever_delivers_and_stops_when_asked(
    plat: Platform, team: Team, receiver: Receiver
) -> None:
    import asyncio

    call(
        plat, wh.create_webhook, team.alice, project=team.app, body=WebhookCreate(url=receiver.url)
    )
    emit(plat, PUSH, _push(team))

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(DeliveryWorker(plat, poll_interval=0.05).run_forever(stopping))
        deadline = asyncio.get_running_loop().time() + 10
        while not receiver.requests and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 -- the receiver is a thread
            await asyncio.sleep(0.02)
        stopping.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert len(receiver.requests) == 1
