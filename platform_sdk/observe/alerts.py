"""The alert evaluator: runs due rules over telemetry and moves their events along.

Evaluating one rule (:func:`evaluate_rule`): the rule's query runs in the telemetry sandbox
(:func:`~platform_sdk.observe.query.run_sql`) over views holding only rows of
``[now - window, now)`` (``since``/``until`` also prune partitions before DuckDB starts) and
only rows of the rule's project — a global rule sees every row, the platform's own included.
The stored parameters plus ``$since``/``$until``/``$window`` are bound (those the query
names). The first column of the first row is the value; no row or NULL is "no data" (None).

Scheduling (:class:`AlertEvaluator`): a rule is due when it is enabled and
``last_evaluated_at + interval_seconds <= now`` (or it was never evaluated). Each due rule is
*claimed* with a compare-and-set in its own short transaction::

    UPDATE alert_rules SET last_evaluated_at = :now
    WHERE id = :id AND enabled AND last_evaluated_at IS NOT DISTINCT FROM :seen

Only one process can move ``last_evaluated_at`` from the value it read, so two servers never
evaluate the same rule in the same round. The query runs outside any transaction; then the
result is applied in a new one (:func:`~platform_sdk.observe.alert_state.advance`), which
emits ``events.alert`` after commit.

Errors (a column gone after a schema change, a timeout) never stop the loop and never move a
rule's state: a broken rule neither fires nor resolves. The message is kept in
``spec["status"]`` (shown as the rule's ``last_error``) and logged; an ``alert.error`` audit
row is written by the system when the message changes, ``alert.recovered`` when it clears.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound, PlatformError
from platform_sdk.observe.alert_sql import check_select
from platform_sdk.observe.alert_state import advance
from platform_sdk.observe.models import AlertKind, AlertRule
from platform_sdk.observe.query import Scope, run_sql, telemetry_relations
from platform_sdk.observe.schema import DATASETS
from platform_sdk.observe.scope import project_labels
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.projects.models import Project

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["AlertEvaluator", "evaluate_rule"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 5.0
_DATASETS = {AlertKind.METRIC: ("metrics",), AlertKind.LOG: ("logs",)}


def _label_of(platform: Platform, rule: AlertRule) -> str | None:
    if rule.project_id is None:
        return None
    with platform.session() as db:
        label = project_labels(db, {rule.project_id}).get(rule.project_id)
    if label is None:
        raise NotFound("the rule's project no longer exists")
    return label


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    raise ValueError(f"the query's first column is not a number: {value!r}")


def evaluate_rule(platform: Platform, rule: AlertRule, now: datetime) -> float | None:
    """The rule's value at ``now`` (None: no data); errors raise (``BadRequest`` …)."""
    spec = rule.spec or {}
    window = int(spec.get("window") or 300)
    since, until = now - timedelta(seconds=window), now
    label = _label_of(platform, rule)
    scope = Scope(frozenset({label})) if label else Scope(None, unowned=True)
    text, names = check_select(rule.query)
    lowered = text.lower()
    datasets = _DATASETS.get(rule.kind) or tuple(d for d in DATASETS if d in lowered) or DATASETS
    relations = telemetry_relations(
        telemetry_of(platform.runtime).source, scope, since=since, until=until, datasets=datasets
    )
    bound = {**spec.get("params", {}), "since": since, "until": until, "window": window}
    result = run_sql(
        text,
        relations,
        max_rows=1,
        timeout=platform.settings.query_timeout,
        params={k: v for k, v in bound.items() if k in names} or None,
    )
    if not result.table.num_rows or not result.table.num_columns:
        return None
    return _number(result.table.column(0)[0].as_py())


@dataclass(frozen=True)
class _Due:
    id: uuid.UUID
    seen: datetime | None


class AlertEvaluator:
    """Evaluates due alert rules of one platform; see the module docstring."""

    def __init__(
        self, platform: Platform, *, batch: int = 200, poll_interval: float = POLL_INTERVAL
    ) -> None:
        self.platform = platform
        self.batch = batch
        self.poll_interval = poll_interval

    # -- one pass --------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> int:
        """Evaluate every rule due at ``now`` that this process claims; how many it did."""
        now = now or utcnow()
        done = 0
        for due in self.due(now):
            if self.claim(due, now):
                self._evaluate(due.id, now)
                done += 1
        return done

    def due(self, now: datetime) -> list[_Due]:
        """Enabled rules (of live projects) whose interval has passed at ``now``, least
        recently evaluated first."""
        with self.platform.session() as db:
            rows = db.execute(
                select(AlertRule.id, AlertRule.last_evaluated_at, AlertRule.interval_seconds)
                .outerjoin(Project, Project.id == AlertRule.project_id)
                .where(
                    AlertRule.enabled.is_(True),
                    or_(AlertRule.project_id.is_(None), Project.deleted_at.is_(None)),
                )
                .order_by(AlertRule.last_evaluated_at.is_not(None), AlertRule.last_evaluated_at)
            ).all()
        out = [
            _Due(rid, last)
            for rid, last, interval in rows
            if last is None or last + timedelta(seconds=interval) <= now
        ]
        return out[: self.batch]

    def claim(self, due: _Due, now: datetime) -> bool:
        """Move the rule's ``last_evaluated_at`` from what :meth:`due` read to ``now``; False
        when another evaluator (or a change of the rule) got there first."""
        seen = (
            AlertRule.last_evaluated_at.is_(None)
            if due.seen is None
            else AlertRule.last_evaluated_at == due.seen
        )
        with self.platform.session() as db:
            result = db.execute(
                update(AlertRule)
                .where(AlertRule.id == due.id, AlertRule.enabled.is_(True), seen)
                .values(last_evaluated_at=now, updated_at=AlertRule.updated_at),
                execution_options={"synchronize_session": False},
            )
            return getattr(result, "rowcount", 0) == 1

    def _evaluate(self, rule_id: uuid.UUID, now: datetime) -> None:
        with self.platform.session() as db:
            rule = db.get(AlertRule, rule_id)
        if rule is None:
            return
        error: str | None = None
        value: float | None = None
        try:
            value = evaluate_rule(self.platform, rule, now)
        except PlatformError as exc:
            error = exc.message
        except Exception as exc:  # a broken rule must not stop the others
            log.exception("alert rule evaluation crashed", extra={"rule": str(rule_id)})
            error = f"{type(exc).__name__}: {exc}"
        try:
            with self.platform.session() as db:
                current = db.get(AlertRule, rule_id)
                if current is None or not current.enabled:
                    return
                self._note_error(db, current, error, now)
                if error is None:
                    pid = current.project_id
                    label = project_labels(db, {pid}).get(pid) if pid else None
                    advance(db, current, label, value, now)
        except Exception:
            log.exception("could not record an alert evaluation", extra={"rule": str(rule_id)})

    @staticmethod
    def _note_error(db: Session, rule: AlertRule, error: str | None, now: datetime) -> None:
        spec = dict(rule.spec or {})
        before = (spec.get("status") or {}).get("error")
        if before == error:
            return
        if error is None:
            spec.pop("status", None)
        else:
            log.warning("alert rule failed", extra={"rule": str(rule.id), "error": error})
            spec["status"] = {"error": error, "at": now.isoformat()}
        db.execute(
            update(AlertRule)
            .where(AlertRule.id == rule.id)
            .values(spec=spec, updated_at=AlertRule.updated_at),
            execution_options={"synchronize_session": False},
        )
        db.expire(rule, ["spec"])
        audit.record(
            db,
            None,
            "alert.error" if error else "alert.recovered",
            target_type="alert_rule",
            target_id=rule.id,
            project_id=rule.project_id,
            details={"rule": rule.name, "error": error} if error else {"rule": rule.name},
        )

    # -- the loop --------------------------------------------------------------------------
    async def run_forever(self, stop: asyncio.Event) -> None:
        """Loop :meth:`run_once` in a thread until ``stop`` is set (a background task)."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("alert evaluation pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)
