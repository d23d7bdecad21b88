"""Events are emitted inside a transaction and delivered only after it commits.

``emit(db, channel, payload)`` first runs the runtime's transactional subscribers
(:meth:`Runtime.subscribe`) in the same session, so durable reactions — webhook deliveries,
notifications — are written atomically with the change; then it queues the event on the
session; when the transaction commits,
the runtime's in-process listeners run first (so this process's caches are correct the moment
the caller returns), then the event is published on the bus for other processes, webhooks and
notifications. A rolled-back transaction emits nothing. Publishing failures are logged, never
raised into a caller whose change is already committed.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from platform_sdk.core.runtime import Runtime

__all__ = ["emit", "install"]

log = logging.getLogger(__name__)

_PENDING = "pending_events"


def emit(db: Session, channel: str, payload: dict[str, Any]) -> None:
    """Run transactional subscribers now; queue ``payload`` for after this session's commit."""
    rt = db.info.get("runtime")
    if isinstance(rt, Runtime):
        for subscriber in list(rt.subscribers.get(channel, ())):
            subscriber(db, payload)
    db.info.setdefault(_PENDING, []).append((channel, dict(payload)))


def _after_commit(session: Session) -> None:
    pending: list[tuple[str, dict[str, Any]]] = session.info.pop(_PENDING, [])
    rt = session.info.get("runtime")
    if not pending or not isinstance(rt, Runtime):
        return
    for channel, payload in pending:
        for listener in list(rt.listeners.get(channel, ())):
            try:
                listener(payload)
            except Exception:
                log.exception("event listener failed", extra={"channel": channel})
        try:
            rt.bus.publish(channel, payload)
        except Exception:
            log.exception("could not publish event", extra={"channel": channel})


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(factory: sessionmaker[Session]) -> None:
    """Deliver the events of sessions made by ``factory`` after they commit."""
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_rollback", _after_rollback)
