"""What one evaluation does to a rule's events, and the ``events.alert`` payload.

A rule has at most one *open* event (pending or firing). Per evaluation (:func:`advance`):

- the condition holds and no event is open: a **pending** event starts (``started_at = now``);
- it holds and the open event is pending since ``for_seconds`` or more: it becomes **firing**
  (``fired_at``), ``events.alert`` action ``firing`` is emitted — the notification
  subscriber queues ``alert.firing`` notifications in the same transaction, so ``notified``
  is set — and an ``alert.firing`` audit row is written by the system actor. With
  ``for_seconds = 0`` a new event goes straight through pending to firing;
- it does not hold and the open event is **pending**: the event is resolved *silently*
  (``resolved_at`` set, ``fired_at`` left empty, nothing emitted). Keeping the row rather
  than deleting it leaves a trace of flapping conditions without notifying anyone;
- it does not hold and the open event is **firing**: it becomes **resolved**, action
  ``resolved`` is emitted and audited.

While an event is open its ``value`` follows the latest value that met the condition.

Disabling or deleting a rule closes its open event the same way (:func:`close_open`), with
the user as the actor of the ``resolved`` event.

Payload (``events.alert``)::

    {"type": "alert", "action": "firing"|"resolved", "project_id", "project", "rule",
     "rule_id", "severity", "value", "threshold", "comparator", "actor": "system",
     "actor_id": None, "event_id", "url", "summary", "created_by_id"}

``summary`` is the notification's text; ``created_by_id`` names the rule's author (global
rules have no project whose members could be told).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core import audit, events
from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.observe.alert_sql import Aggregation
from platform_sdk.observe.models import AlertEvent, AlertKind, AlertRule, AlertState, Comparator

__all__ = ["CHANNEL", "OPEN", "advance", "close_open", "holds", "is_count", "open_event"]

CHANNEL = "events.alert"
OPEN = (AlertState.PENDING, AlertState.FIRING)
_SYMBOL = {
    Comparator.GT: ">",
    Comparator.GE: ">=",
    Comparator.LT: "<",
    Comparator.LE: "<=",
    Comparator.EQ: "=",
    Comparator.NE: "!=",
}


def is_count(rule: AlertRule) -> bool:
    """True when the rule's value is a count (0, not NULL, when nothing matched)."""
    spec = rule.spec or {}
    return rule.kind == AlertKind.LOG or (
        rule.kind == AlertKind.METRIC and spec.get("agg") == Aggregation.COUNT.value
    )


def holds(
    comparator: Comparator, threshold: float, value: float | None, *, count: bool = False
) -> bool:
    """``value <comparator> threshold``; ``absent`` holds without data (None, or a 0 count);
    the other comparators never hold without data."""
    if comparator == Comparator.ABSENT:
        return value is None or (count and value == 0)
    if value is None:
        return False
    match comparator:
        case Comparator.GT:
            return value > threshold
        case Comparator.GE:
            return value >= threshold
        case Comparator.LT:
            return value < threshold
        case Comparator.LE:
            return value <= threshold
        case Comparator.EQ:
            return value == threshold
        case _:
            return value != threshold


def open_event(db: Session, rule_id: Any) -> AlertEvent | None:
    """The rule's pending or firing event, if any."""
    return db.scalar(
        select(AlertEvent)
        .where(AlertEvent.rule_id == rule_id, AlertEvent.state.in_(OPEN))
        .order_by(AlertEvent.started_at.desc())
        .limit(1)
    )


def _summary(rule: AlertRule, value: float | None, action: str) -> str:
    shown = "no data" if value is None else f"{value:g}"
    if action == "resolved":
        return f"Alert {rule.name} resolved (value now {shown})."
    if rule.comparator == Comparator.ABSENT:
        condition = f"no data in the last {rule.spec.get('window', '?')} s"
    else:
        condition = f"value {shown} {_SYMBOL[rule.comparator]} {rule.threshold:g}"
    held = f" for {rule.for_seconds} s" if rule.for_seconds else ""
    return f"Alert {rule.name} ({rule.severity.value}) is firing: {condition}{held}."


def _emit(
    db: Session,
    rule: AlertRule,
    label: str | None,
    event: AlertEvent,
    action: str,
    value: float | None,
    actor: Actor | None,
) -> None:
    base = runtime_of(db).settings.base_url
    payload: dict[str, Any] = {
        "type": "alert",
        "action": action,
        "project_id": str(rule.project_id) if rule.project_id else None,
        "project": label,
        "rule": rule.name,
        "rule_id": str(rule.id),
        "severity": rule.severity.value,
        "value": value,
        "threshold": rule.threshold,
        "comparator": rule.comparator.value,
        "actor": actor.username if actor else "system",
        "actor_id": str(actor.user_id) if actor else None,
        "event_id": str(event.id),
        "url": f"{base}/{label}/alerts" if label else f"{base}/alerts",
        "summary": _summary(rule, value, action),
        "created_by_id": str(rule.created_by_id) if rule.created_by_id else None,
    }
    events.emit(db, CHANNEL, payload)


def _audit(db: Session, rule: AlertRule, event: AlertEvent, action: str) -> None:
    audit.record(
        db,
        None,
        f"alert.{action}",
        target_type="alert_rule",
        target_id=rule.id,
        project_id=rule.project_id,
        details={"rule": rule.name, "event_id": str(event.id), "value": event.value},
    )


def advance(
    db: Session, rule: AlertRule, label: str | None, value: float | None, now: datetime
) -> str | None:
    """Apply one evaluation's ``value`` at ``now``; the action emitted, if any."""
    event = open_event(db, rule.id)
    if holds(rule.comparator, rule.threshold, value, count=is_count(rule)):
        if event is None:
            event = AlertEvent(
                rule_id=rule.id, state=AlertState.PENDING, value=value, started_at=now, labels={}
            )
            db.add(event)
            db.flush()
        else:
            event.value = value
        held = now - event.started_at >= timedelta(seconds=rule.for_seconds)
        if held and event.state.can_transition(AlertState.FIRING):  # pending, not yet firing
            event.state = event.state.transition(AlertState.FIRING)
            event.fired_at = now
            event.notified = True
            db.flush()
            _audit(db, rule, event, "firing")
            _emit(db, rule, label, event, "firing", value, None)
            return "firing"
        return None
    if event is None:
        return None
    was_firing = event.state == AlertState.FIRING
    event.state = event.state.transition(AlertState.RESOLVED)
    event.resolved_at = now
    db.flush()
    if not was_firing:
        return None
    _audit(db, rule, event, "resolved")
    _emit(db, rule, label, event, "resolved", value, None)
    return "resolved"


def close_open(
    db: Session, rule: AlertRule, label: str | None, now: datetime, actor: Actor
) -> None:
    """Resolve the rule's open event because ``actor`` disabled or deleted the rule."""
    event = open_event(db, rule.id)
    if event is None:
        return
    was_firing = event.state == AlertState.FIRING
    event.state = event.state.transition(AlertState.RESOLVED)
    event.resolved_at = now
    db.flush()
    if was_firing:
        _emit(db, rule, label, event, "resolved", None, actor)
