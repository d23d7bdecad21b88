"""The notification dispatcher: sends pending email and webhook notifications.

Inbox notifications are written ``sent`` by the subscribers; this worker handles the rest, far
from any request. Each pass takes pending ``email``/``webhook`` rows, oldest first.

Claiming. The notifications table has no lease column, so a row is claimed on the bus:
``bus.incr("notify:claim:<id>", ttl=LEASE) == 1`` is won by exactly one worker (in-process
or across processes on Valkey); the status update afterwards is conditional on ``pending``,
so a row is sent at most once per lease even if a lease expires mid-send.

Rate limit. At most ``per_minute`` messages per user per minute window
(``bus.incr("notify:rate:<user>:<minute>", ttl=60)``). Over the limit the notification is
marked ``skipped`` — it stays visible in the send log, and a burst of events cannot flood a
mailbox or keep a backlog growing; the inbox (which is not rate limited) still has it.

Sending. Email goes through :mod:`smtplib` to ``PLATFORM_SMTP_URL`` (``smtp://``,
``smtp+starttls://``, ``smtps://``, optional ``user:password@``) from ``PLATFORM_SMTP_FROM``;
no relay configured, or a user without an email address, marks the row ``failed``. The
``webhook`` channel posts JSON to the user's preference ``webhook_url`` after the same target
check as project webhooks. Success marks the row ``sent``.

Retrying. A failure that may pass (the relay or the receiver unreachable, an SMTP error, an
HTTP 5xx or 429) leaves the row ``pending`` with ``attempts`` counted, ``error`` kept and
``next_attempt_at`` pushed back by ``BACKOFF * 2^(attempts-1)`` (30 s, 60 s, 120 s …); after
:data:`MAX_ATTEMPTS` it is ``failed``. A failure no retry can fix (no relay configured, no
address, no webhook URL, a refused target, an HTTP 4xx) marks it ``failed`` at once. Claims
are per attempt (``notify:claim:<id>:<attempt>``), so a retry is never blocked by the lease of
the attempt before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import httpx
from sqlalchemy import or_, select, update

from platform_sdk.core.types import utcnow
from platform_sdk.errors import PlatformError
from platform_sdk.identity.models import User
from platform_sdk.notify.models import (
    Notification,
    NotificationChannel,
    NotificationPreference,
    NotificationStatus,
)
from platform_sdk.notify.ssrf import Resolver, check_url, pinned_client

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["DEFAULT_PER_MINUTE", "Dispatcher", "send_email"]

log = logging.getLogger(__name__)

DEFAULT_PER_MINUTE = 20
LEASE = 300.0
TIMEOUT = 10.0
BACKOFF = timedelta(seconds=30)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class _Failure:
    reason: str
    permanent: bool


@dataclass
class _Job:
    id: uuid.UUID
    attempts: int
    user_id: uuid.UUID
    channel: NotificationChannel
    kind: str
    title: str
    body: str
    link: str | None
    project_id: uuid.UUID | None
    created_at: datetime
    email: str | None
    webhook_url: str | None


def send_email(smtp_url: str, sender: str, to: str, subject: str, text: str) -> None:
    """Send one plain-text email through the relay ``smtp_url`` (raises on failure)."""
    parts = urlsplit(smtp_url)
    host = parts.hostname or "localhost"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    smtp: smtplib.SMTP
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=TIMEOUT, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=TIMEOUT)
    with smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)


class Dispatcher:
    """Sends pending email/webhook notifications of one platform; see the module docstring."""

    def __init__(
        self,
        platform: Platform,
        *,
        per_minute: int = DEFAULT_PER_MINUTE,
        batch: int = 100,
        poll_interval: float = 1.0,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.platform = platform
        self.per_minute = per_minute
        self.batch = batch
        self.poll_interval = poll_interval
        self._resolver = resolver
        self._transport = transport

    def run_once(self, now: datetime | None = None) -> int:
        """Handle every pending email/webhook notification; how many were handled."""
        now = now or utcnow()
        bus = self.platform.bus
        handled = 0
        for job in self._pending(now):
            if bus.incr(f"notify:claim:{job.id}:{job.attempts}", ttl=LEASE) != 1:
                continue
            window = int(now.timestamp() // 60)
            count = bus.incr(f"notify:rate:{job.user_id}:{window}", ttl=60)
            if count > self.per_minute:
                self._finish(job, NotificationStatus.SKIPPED, "rate limited", now)
            else:
                failure = self._send(job)
                if failure is None:
                    self._finish(job, NotificationStatus.SENT, None, now)
                elif failure.permanent or job.attempts + 1 >= MAX_ATTEMPTS:
                    self._finish(job, NotificationStatus.FAILED, failure.reason, now)
                else:
                    self._finish(job, NotificationStatus.PENDING, failure.reason, now)
            handled += 1
        return handled

    def _pending(self, now: datetime) -> list[_Job]:
        with self.platform.session() as db:
            rows = db.execute(
                select(Notification, User.email)
                .join(User, User.id == Notification.user_id)
                .where(
                    Notification.status == NotificationStatus.PENDING,
                    Notification.channel.in_(
                        [NotificationChannel.EMAIL, NotificationChannel.WEBHOOK]
                    ),
                    or_(
                        Notification.next_attempt_at.is_(None),
                        Notification.next_attempt_at <= now,
                    ),
                )
                .order_by(Notification.created_at, Notification.id)
                .limit(self.batch)
            ).all()
            hooks = {
                (p.user_id, p.kind): p.webhook_url
                for p in db.scalars(
                    select(NotificationPreference).where(
                        NotificationPreference.user_id.in_({n.user_id for n, _ in rows})
                    )
                )
            }
            return [
                _Job(
                    n.id,
                    n.attempts,
                    n.user_id,
                    n.channel,
                    n.kind,
                    n.title,
                    n.body,
                    n.link,
                    n.project_id,
                    n.created_at,
                    email,
                    hooks.get((n.user_id, n.kind)),
                )
                for n, email in rows
            ]

    def _send(self, job: _Job) -> _Failure | None:
        """``None`` on success, else why it failed and whether a retry could help."""
        settings = self.platform.settings
        try:
            if job.channel == NotificationChannel.EMAIL:
                if not settings.smtp_url:
                    return _Failure("no SMTP relay configured (PLATFORM_SMTP_URL)", True)
                if not job.email:
                    return _Failure("the user has no email address", True)
                text = job.body + (f"\n\n{job.link}\n" if job.link else "\n")
                send_email(settings.smtp_url, settings.smtp_from, job.email, job.title, text)
                return None
            if not job.webhook_url:
                return _Failure("no webhook_url in the user's preference", True)
            url = check_url(job.webhook_url, field="webhook_url")
            with pinned_client(
                allow_private=self.platform.settings.webhook_allow_private,
                timeout=TIMEOUT,
                resolver=self._resolver,
                transport=self._transport,
            ) as client:
                response = client.post(
                    url,
                    json={
                        "id": str(job.id),
                        "kind": job.kind,
                        "title": job.title,
                        "body": job.body,
                        "link": job.link,
                        "project_id": str(job.project_id) if job.project_id else None,
                        "created_at": job.created_at.isoformat(),
                    },
                    headers={"X-Platform-Event": "notification"},
                )
            code = response.status_code
            if not 200 <= code < 300:
                return _Failure(f"HTTP {code}", permanent=code < 500 and code != 429)
            return None
        except PlatformError as exc:
            return _Failure(exc.message, True)
        except (OSError, smtplib.SMTPException, httpx.HTTPError) as exc:
            return _Failure(f"{type(exc).__name__}: {exc}", False)

    def _finish(
        self, job: _Job, status: NotificationStatus, error: str | None, now: datetime
    ) -> None:
        if error:
            log.warning(
                "notification not sent",
                extra={"notification": str(job.id), "status": status.value, "error": error},
            )
        with self.platform.session() as db:
            db.execute(
                update(Notification)
                .where(Notification.id == job.id, Notification.status == NotificationStatus.PENDING)
                .values(
                    status=status,
                    sent_at=utcnow() if status == NotificationStatus.SENT else None,
                    attempts=Notification.attempts + int(status != NotificationStatus.SKIPPED),
                    error=error,
                    next_attempt_at=(
                        now + BACKOFF * 2**job.attempts
                        if status == NotificationStatus.PENDING
                        else None
                    ),
                ),
                execution_options={"synchronize_session": False},
            )

    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Loop :meth:`run_once` in a thread until ``stopping`` is set (a background task)."""
        while not stopping.is_set():
            try:
                handled = await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("notification dispatch pass failed")
                handled = 0
            if handled:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.poll_interval)
