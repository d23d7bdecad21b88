"""Alert rows and their schemas: compiling a rule's query, and rows back to ``…Out`` models.

Helpers of :mod:`platform_sdk.observe.services.alerts` that make no authorization decision
(so they take no actor): :func:`compile_rule` turns a validated :class:`AlertRuleCreate` into
the stored ``query`` and ``spec`` (its structured fields plus ``params``, the values bound to
the query); :func:`rule_fields` is the inverse, the rule as ``AlertRuleCreate`` input (what
an update merges the sent fields into); :func:`rule_out` and :func:`event_out` build the
schemas services return.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from platform_sdk.errors import ValidationFailed
from platform_sdk.identity.grants import username_of
from platform_sdk.observe.alert_schemas import (
    KIND_FIELDS,
    AlertEventOut,
    AlertRuleCreate,
    AlertRuleOut,
)
from platform_sdk.observe.alert_sql import log_query, metric_query
from platform_sdk.observe.alert_state import open_event
from platform_sdk.observe.models import AlertEvent, AlertKind, AlertRule

__all__ = ["compile_rule", "event_out", "parse_rule", "rule_fields", "rule_out"]

_SPEC_FIELDS = ("metric", "agg", "labels", "level", "q", "service", "window")


def compile_rule(body: AlertRuleCreate) -> tuple[str, dict[str, Any]]:
    """The rule's query and spec (structured fields plus the bound ``params``)."""
    if body.kind == AlertKind.METRIC:
        assert body.metric is not None
        assert body.agg is not None
        query, params = metric_query(body.metric, body.agg, body.labels or {}, body.service)
    elif body.kind == AlertKind.LOG:
        query, params = log_query(body.level, body.q, body.service)
    else:
        assert body.query is not None
        query, params = body.query.strip().rstrip(";").strip(), {}
    spec = {f: getattr(body, f) for f in _SPEC_FIELDS if getattr(body, f) is not None}
    spec["params"] = params
    return query, spec


def _state(db: Session, rule: AlertRule) -> str:
    event = open_event(db, rule.id)
    return "ok" if event is None else event.state.value


def rule_out(db: Session, rule: AlertRule, label: str | None) -> AlertRuleOut:
    """The rule as returned: structured fields from ``spec``, state from its open event."""
    spec = dict(rule.spec or {})
    status = spec.get("status") or {}
    kind_fields = KIND_FIELDS[rule.kind] - {"query"}
    return AlertRuleOut.model_validate(
        {
            "id": rule.id,
            "project": label,
            "name": rule.name,
            "description": rule.description,
            "kind": rule.kind,
            **{f: spec.get(f) for f in kind_fields},
            "window": spec.get("window", 0),
            "query": rule.query,
            "params": spec.get("params", {}),
            "comparator": rule.comparator,
            "threshold": rule.threshold,
            "for": rule.for_seconds,
            "interval_seconds": rule.interval_seconds,
            "severity": rule.severity,
            "enabled": rule.enabled,
            "state": _state(db, rule),
            "last_error": status.get("error"),
            "last_evaluated_at": rule.last_evaluated_at,
            "created_by": username_of(db, rule.created_by_id),
            "created_at": rule.created_at,
            "updated_at": rule.updated_at,
        }
    )


def rule_fields(rule: AlertRule, label: str | None) -> dict[str, Any]:
    """The rule as :class:`AlertRuleCreate` input (``for`` under its JSON key)."""
    spec = rule.spec or {}
    data: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "project": label,
        "kind": rule.kind,
        "comparator": rule.comparator,
        "threshold": rule.threshold,
        "for": rule.for_seconds,
        "interval_seconds": rule.interval_seconds,
        "severity": rule.severity,
        "enabled": rule.enabled,
        "window": spec.get("window"),
    }
    data.update({f: spec[f] for f in KIND_FIELDS[rule.kind] if spec.get(f) is not None})
    if rule.kind == AlertKind.SQL:
        data["query"] = rule.query
    return data


def parse_rule(data: dict[str, Any], *, check_query: bool = True) -> AlertRuleCreate:
    """``data`` validated as a rule; pydantic's error as :class:`ValidationFailed`.
    ``check_query=False`` skips the dry run of a SQL rule's (unchanged) query."""
    try:
        return AlertRuleCreate.model_validate(data, context={"check_query": check_query})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ValidationFailed(
            f"{where}: {message}" if where else message, details={"field": where}
        ) from None


def event_out(event: AlertEvent, rule: AlertRule, label: str | None) -> AlertEventOut:
    """The event with its rule's name, project and severity."""
    return AlertEventOut(
        id=event.id,
        rule_id=rule.id,
        rule=rule.name,
        project=label,
        severity=rule.severity,
        state=event.state,
        value=event.value,
        started_at=event.started_at,
        fired_at=event.fired_at,
        resolved_at=event.resolved_at,
        labels=dict(event.labels or {}),
        notified=event.notified,
    )
