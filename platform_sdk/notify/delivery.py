"""The webhook delivery worker: claims due deliveries, signs, sends, records, retries.

Claiming. A due row is ``pending``/``retrying`` with ``next_attempt_at <= now``. The worker
selects a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers skip each
other's rows; SQLite has one writer anyway) and leases each row with a conditional
``UPDATE … SET next_attempt_at = now + LEASE WHERE id = … AND next_attempt_at <= now`` that only
one worker can win, then commits. A worker that dies mid-send leaves the lease to expire and
the row is sent again (receivers deduplicate on ``X-Platform-Delivery``). Sending happens
outside any transaction.

Sending. The body is the stored payload as compact JSON; the headers are
``X-Platform-Event``, ``X-Platform-Delivery`` (the delivery uuid) and
``X-Platform-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`` keyed with the
webhook's secret (read through :func:`~platform_sdk.secrets.system.read_system_secret`). The
target's addresses are checked again as it is sent, and the connection is pinned to a checked
address (:class:`~platform_sdk.notify.ssrf.PinnedTransport`, DNS rebinding); redirects are not
followed. A 2xx answer succeeds.

Retrying. Each attempt records the response code, the first :data:`MAX_BODY` characters of the
response body, the duration and the error; a failed attempt is retried after
``BACKOFF * 2^(attempts-1)`` (10 s, 20 s, 40 s …) until :data:`MAX_ATTEMPTS`, then the
delivery is ``failed``. ``run_once(now=…)`` takes the clock as an argument so tests drive the
schedule without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import or_, select, update

from platform_sdk.__about__ import __version__
from platform_sdk.core.types import utcnow
from platform_sdk.errors import PlatformError
from platform_sdk.notify.models import DeliveryStatus, Webhook, WebhookDelivery
from platform_sdk.notify.ssrf import Resolver, check_url, pinned_client
from platform_sdk.secrets.system import read_system_secret

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["BACKOFF", "LEASE", "MAX_ATTEMPTS", "MAX_BODY", "DeliveryWorker", "sign"]

log = logging.getLogger(__name__)

BACKOFF = timedelta(seconds=10)
MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=5)
MAX_BODY = 4096
TIMEOUT = 10.0
_DUE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Platform-Signature`` value of ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


@dataclass
class _Job:
    id: uuid.UUID
    url: str
    event: str
    delivery_uuid: uuid.UUID
    body: bytes
    secret: str | None


@dataclass
class _Outcome:
    ok: bool
    code: int | None = None
    body: str | None = None
    duration_ms: int = 0
    error: str | None = None


class DeliveryWorker:
    """Sends due webhook deliveries of one platform; see the module docstring."""

    def __init__(
        self,
        platform: Platform,
        *,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        batch: int = 50,
        poll_interval: float = 1.0,
    ) -> None:
        self.platform = platform
        self.batch = batch
        self.poll_interval = poll_interval
        self._resolver = resolver
        self._transport = transport

    # -- one pass --------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> int:
        """Send every delivery due at ``now`` (default: the current time); how many were tried."""
        now = now or utcnow()
        jobs = [job for rid in self._claim(now) if (job := self._load(rid)) is not None]
        for job in jobs:
            self._record(job, self._send(job), now)
        return len(jobs)

    def _claim(self, now: datetime) -> list[uuid.UUID]:
        with self.platform.session() as db:
            stmt = (
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status.in_(_DUE),
                    or_(
                        WebhookDelivery.next_attempt_at.is_(None),
                        WebhookDelivery.next_attempt_at <= now,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(self.batch)
            )
            if db.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            ids = list(db.scalars(stmt))
            won = []
            for rid in ids:
                result = db.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == rid,
                        WebhookDelivery.status.in_(_DUE),
                        or_(
                            WebhookDelivery.next_attempt_at.is_(None),
                            WebhookDelivery.next_attempt_at <= now,
                        ),
                    )
                    .values(next_attempt_at=now + LEASE),
                    execution_options={"synchronize_session": False},
                )
                if getattr(result, "rowcount", 0) == 1:
                    won.append(rid)
            return won

    def _load(self, rid: uuid.UUID) -> _Job | None:
        with self.platform.session() as db:
            row = db.get(WebhookDelivery, rid)
            hook = db.get(Webhook, row.webhook_id) if row is not None else None
            if row is None or hook is None:
                return None
            secret = None
            if hook.secret_id is not None:
                try:
                    secret = read_system_secret(db, hook.secret_id)
                except PlatformError:
                    log.warning("webhook secret unreadable", extra={"webhook": str(hook.id)})
            return _Job(
                row.id, hook.url, row.event, row.delivery_uuid, body_of(row.payload), secret
            )

    def _send(self, job: _Job) -> _Outcome:
        started = time.monotonic()
        try:
            check_url(job.url)
            if job.secret is None:
                return _Outcome(False, error="the webhook has no signing secret")
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"platform-webhooks/{__version__}",
                "X-Platform-Event": job.event,
                "X-Platform-Delivery": str(job.delivery_uuid),
                "X-Platform-Signature": sign(job.secret, job.body),
            }
            with pinned_client(
                allow_private=self.platform.settings.webhook_allow_private,
                timeout=TIMEOUT,
                resolver=self._resolver,
                transport=self._transport,
            ) as client:
                response = client.post(job.url, content=job.body, headers=headers)
            elapsed = int((time.monotonic() - started) * 1000)
            ok = 200 <= response.status_code < 300
            return _Outcome(
                ok,
                response.status_code,
                response.text[:MAX_BODY],
                elapsed,
                None if ok else f"HTTP {response.status_code}",
            )
        except PlatformError as exc:
            return _Outcome(False, error=exc.message, duration_ms=_ms(started))
        except httpx.HTTPError as exc:
            return _Outcome(False, error=f"{type(exc).__name__}: {exc}", duration_ms=_ms(started))

    def _record(self, job: _Job, outcome: _Outcome, now: datetime) -> None:
        with self.platform.session() as db:
            row = db.get(WebhookDelivery, job.id)
            if row is None:
                return
            row.attempts += 1
            row.response_code = outcome.code
            row.response_body = outcome.body
            row.duration_ms = outcome.duration_ms
            row.error = outcome.error
            if outcome.ok:
                row.status = row.status.transition(DeliveryStatus.SUCCEEDED)
                row.next_attempt_at = None
                row.finished_at = utcnow()
            elif row.attempts >= MAX_ATTEMPTS:
                row.status = row.status.transition(DeliveryStatus.FAILED)
                row.next_attempt_at = None
                row.finished_at = utcnow()
            else:
                row.status = row.status.transition(DeliveryStatus.RETRYING)
                row.next_attempt_at = now + BACKOFF * (2 ** (row.attempts - 1))

    # -- the loop --------------------------------------------------------------------------
    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Loop :meth:`run_once` in a thread until ``stopping`` is set (a background task)."""
        while not stopping.is_set():
            try:
                sent = await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("webhook delivery pass failed")
                sent = 0
            if sent:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.poll_interval)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
