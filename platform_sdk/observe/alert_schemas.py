"""Pydantic schemas of alert rules and alert events (services, HTTP bodies and the SDK).

A rule is one of three kinds, told by ``kind`` (or, when it is omitted, by the fields sent:
``query`` → sql, ``metric`` → metric; a log rule says ``kind: "log"``):

- **metric**: ``metric`` (the name), ``agg`` (default ``avg``; see
  :class:`~platform_sdk.observe.alert_sql.Aggregation`), ``labels`` (point labels that must
  match exactly), ``service``;
- **log**: the number of log records matching ``level``, ``q`` (text in the body) and
  ``service`` — all optional;
- **sql**: ``query``, one read-only ``SELECT`` over ``logs``, ``spans`` and ``metrics`` whose
  first column of the first row is the value. It is checked when saved: run once over empty
  views, so names, types and parameters resolve and the first column is a number.

Every kind has ``window`` (seconds, 10 s to 7 days; default 300, and 3600 for sql rules): the
telemetry views of an evaluation hold only rows of ``[now - window, now)``, so a SQL rule
needs no time filter of its own (it may use ``$since``, ``$until`` and ``$window``).

The condition is ``value <comparator> threshold`` held for ``for`` seconds (JSON key ``for``;
``for_`` in Python). ``absent`` fires when there is no data: the value is NULL, or 0 for a
count (log rules, ``agg="count"``). Fields of another kind are refused rather than ignored,
so a typo cannot silently widen a rule.

:class:`AlertRuleUpdate` changes only the fields sent (``model_fields_set``); sending
``null`` clears an optional filter (``q``, ``level``, ``service``, ``labels``). An update
that leaves a SQL rule's query alone does not run it again (validation context
``{"check_query": False}``), so a rule broken by a schema change can still be disabled.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from platform_sdk.observe.alert_sql import (
    MAX_QUERY_CHARS,
    RUNTIME_PARAMS,
    Aggregation,
    check_select,
    dry_run,
)
from platform_sdk.observe.models import AlertKind, AlertState, Comparator, Severity

__all__ = [
    "KIND_FIELDS",
    "Aggregation",
    "AlertEventOut",
    "AlertKind",
    "AlertRuleCreate",
    "AlertRuleOut",
    "AlertRuleUpdate",
    "AlertState",
    "Comparator",
    "RuleState",
    "Severity",
]

MIN_WINDOW = 10
MAX_WINDOW = 7 * 24 * 3600
DEFAULT_WINDOW = {AlertKind.METRIC: 300, AlertKind.LOG: 300, AlertKind.SQL: 3600}
MAX_LABELS = 20

KIND_FIELDS: dict[AlertKind, frozenset[str]] = {
    AlertKind.METRIC: frozenset({"metric", "agg", "labels", "service"}),
    AlertKind.LOG: frozenset({"level", "q", "service"}),
    AlertKind.SQL: frozenset({"query"}),
}
"""The kind-specific fields each kind accepts (the others are refused)."""
_ALL_KIND_FIELDS = frozenset().union(*KIND_FIELDS.values())

RuleState = Literal["ok", "pending", "firing"]
"""A rule's current state: its open event's state, or ``ok`` when none is open."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _label_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # as json_extract_string renders a JSON boolean
    if isinstance(value, int | float):
        return str(value)
    return value


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    return labels


RuleName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w .:\-]*$"
    ),
]
MetricName = Annotated[
    str,
    StringConstraints(max_length=255, pattern=r"^[A-Za-z][A-Za-z0-9_./\-]*$"),
]
LabelKey = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.:/\-]*$")
]
LabelValue = Annotated[str, BeforeValidator(_label_value), StringConstraints(max_length=1000)]
Labels = Annotated[dict[LabelKey, LabelValue], AfterValidator(_check_labels)]
Level = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$"
    ),
]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Service = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Window = Annotated[int, Field(ge=MIN_WINDOW, le=MAX_WINDOW)]
Interval = Annotated[int, Field(ge=10, le=24 * 3600)]
ForSeconds = Annotated[int, Field(ge=0, le=MAX_WINDOW)]
Threshold = Annotated[float, AfterValidator(_finite)]
Query = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
ProjectRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

_CONFIG = ConfigDict(
    extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
)


def _infer_kind(data: Any) -> Any:
    if isinstance(data, dict) and data.get("kind") is None:
        if data.get("query") is not None:
            return {**data, "kind": AlertKind.SQL}
        if data.get("metric") is not None:
            return {**data, "kind": AlertKind.METRIC}
        raise ValueError(
            "kind: say which kind of rule this is: metric (metric=…), log (kind='log') "
            "or sql (query=…)"
        )
    return data


class AlertRuleCreate(BaseModel):
    """A new rule; see the module docstring for the fields of each kind."""

    model_config = _CONFIG

    name: RuleName
    description: Description = ""
    project: ProjectRef | None = None
    """``owner/name`` (or the project's id); None: a global rule over all telemetry."""
    kind: AlertKind
    metric: MetricName | None = None
    agg: Aggregation | None = None
    labels: Labels | None = None
    level: Level | None = None
    q: SearchText | None = None
    service: Service | None = None
    query: Query | None = None
    window: Window | None = None
    comparator: Comparator = Comparator.GT
    threshold: Threshold = 0.0
    for_: ForSeconds = Field(0, alias="for")
    interval_seconds: Interval = 60
    severity: Severity = Severity.WARNING
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _kind(cls, data: Any) -> Any:
        return _infer_kind(data)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> AlertRuleCreate:
        allowed = KIND_FIELDS[self.kind]
        extra = sorted(
            f for f in _ALL_KIND_FIELDS - allowed if getattr(self, f) not in (None, {}, "")
        )
        if extra:
            raise ValueError(
                f"{', '.join(extra)}: not used by {self.kind.value} rules "
                f"(they take {', '.join(sorted(allowed))})"
            )
        if self.kind == AlertKind.METRIC:
            if self.metric is None:
                raise ValueError("metric: a metric rule needs the metric's name")
            self.agg = self.agg or Aggregation.AVG
            self.labels = self.labels or {}
        if self.kind == AlertKind.SQL:
            if self.query is None:
                raise ValueError("query: a sql rule needs its SELECT")
            if (info.context or {}).get("check_query", True):
                _check_sql(self.query)
        if self.window is None:
            self.window = DEFAULT_WINDOW[self.kind]
        return self


def _check_sql(query: str) -> None:
    try:
        _, names = check_select(query)
    except ValueError as exc:
        raise ValueError(f"query: {exc}") from None
    unknown = sorted(names - RUNTIME_PARAMS)
    if unknown:
        raise ValueError(
            f"query: unknown parameter(s) {', '.join('$' + n for n in unknown)}; "
            "a rule's query may use $since, $until and $window only"
        )
    sample = {
        "since": datetime(2000, 1, 1, tzinfo=UTC),
        "until": datetime(2000, 1, 2, tzinfo=UTC),
        "window": 60,
    }
    try:
        dry_run(query, {k: v for k, v in sample.items() if k in names})
    except ValueError as exc:
        raise ValueError(f"query: {exc}") from None


class AlertRuleUpdate(BaseModel):
    """Only the fields sent change (``null`` clears ``labels``, ``level``, ``q``, ``service``)."""

    model_config = _CONFIG

    name: RuleName | None = None
    description: Description | None = None
    kind: AlertKind | None = None
    metric: MetricName | None = None
    agg: Aggregation | None = None
    labels: Labels | None = None
    level: Level | None = None
    q: SearchText | None = None
    service: Service | None = None
    query: Query | None = None
    window: Window | None = None
    comparator: Comparator | None = None
    threshold: Threshold | None = None
    for_: ForSeconds | None = Field(None, alias="for")
    interval_seconds: Interval | None = None
    severity: Severity | None = None
    enabled: bool | None = None


class AlertRuleOut(BaseModel):
    """A rule as stored: its structured fields, the SQL generated from them and the values
    bound to it (``params``), and its current ``state``."""

    model_config = ConfigDict(
        from_attributes=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    id: uuid.UUID
    project: str | None
    name: str
    description: str
    kind: AlertKind
    metric: str | None = None
    agg: Aggregation | None = None
    labels: dict[str, str] | None = None
    level: str | None = None
    q: str | None = None
    service: str | None = None
    window: int
    query: str
    params: dict[str, Any]
    comparator: Comparator
    threshold: float
    for_: int = Field(alias="for")
    interval_seconds: int
    severity: Severity
    enabled: bool
    state: RuleState
    last_error: str | None = None
    """Why the last evaluation failed (e.g. a column gone after a schema change); None if
    it succeeded."""
    last_evaluated_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class AlertEventOut(BaseModel):
    """One episode of a rule's condition: pending, then firing, then resolved.

    A resolved event with no ``fired_at`` never fired: its condition stopped holding before
    ``for`` had passed.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    rule: str
    project: str | None
    severity: Severity
    state: AlertState
    value: float | None
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    labels: dict[str, Any]
    notified: bool
