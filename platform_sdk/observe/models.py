"""Relational tables of observability: the metric catalogue, alert rules and alert events.

Telemetry itself lives as Parquet in the object store; only what must be relational is here.

- ``metric_series`` catalogues each series once: ``series_key`` is a hex digest of the metric
  name, its sorted labels and the project, unique, so ingest upserts by it.
- ``alert_rules`` names are unique per project, and globally among global rules
  (``project_id`` NULL): partial unique indexes ``uq_alert_rules_global`` and
  ``uq_alert_rules_project``. A rule fires when ``value <comparator> threshold`` has held
  for ``for_seconds``; ``query`` is read-only SQL over the telemetry views whose first
  column of the first row is the value.
- ``alert_events`` follow one firing of a rule from pending to resolved.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin, partial_unique
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import JSONType, status_enum, utcnow

__all__ = [
    "AlertEvent",
    "AlertKind",
    "AlertRule",
    "AlertState",
    "Comparator",
    "MetricKind",
    "MetricSeries",
    "Severity",
]


class MetricKind(enum.StrEnum):
    """The OTLP metric data types."""

    GAUGE = "gauge"
    SUM = "sum"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"
    SUMMARY = "summary"


class Comparator(enum.StrEnum):
    """How an alert rule compares the queried value with its threshold."""

    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    EQ = "eq"
    NE = "ne"
    ABSENT = "absent"
    """Fires when the query finds no data at all in the window (the value is NULL)."""


class AlertKind(enum.StrEnum):
    """What a rule watches: a metric aggregate, a count of log records, or raw SQL."""

    METRIC = "metric"
    LOG = "log"
    SQL = "sql"


class Severity(enum.StrEnum):
    """How loud an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StatusEnum):
    """Pending while the condition holds for less than ``for_seconds``; resolved is terminal."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


AlertState.allow(
    {
        AlertState.PENDING: {AlertState.FIRING, AlertState.RESOLVED},
        AlertState.FIRING: {AlertState.RESOLVED},
    }
)


class MetricSeries(IdMixin, Base):
    """One metric series seen by ingest: name, kind, unit, labels and when it was seen."""

    __tablename__ = "metric_series"
    __table_args__ = (Index("ix_metric_series_name", "name"),)

    series_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[MetricKind] = mapped_column(status_enum(MetricKind))
    unit: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRule(IdMixin, TimestampMixin, Base):
    """A query evaluated every ``interval_seconds`` and compared with a threshold.

    ``channels`` is a JSON list of targets, e.g. ``[{"kind": "inbox", "user_id": "…"},
    {"kind": "email", "to": "ops@example.org"}, {"kind": "webhook", "webhook_id": "…"}]``.
    """

    __tablename__ = "alert_rules"
    __table_args__ = (
        partial_unique("uq_alert_rules_global", "name", where="project_id IS NULL"),
        partial_unique(
            "uq_alert_rules_project", "project_id", "name", where="project_id IS NOT NULL"
        ),
        CheckConstraint("interval_seconds > 0 AND for_seconds >= 0", name="durations_valid"),
    )

    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[AlertKind] = mapped_column(status_enum(AlertKind), default=AlertKind.SQL)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType(), default=dict)
    """The structured rule (metric, aggregation, labels, window / log filter, window) that
    ``query`` was generated from; empty for ``sql`` rules."""
    query: Mapped[str] = mapped_column(Text)
    comparator: Mapped[Comparator] = mapped_column(status_enum(Comparator), default=Comparator.GT)
    threshold: Mapped[float]
    for_seconds: Mapped[int] = mapped_column(default=0)
    interval_seconds: Mapped[int] = mapped_column(default=60)
    severity: Mapped[Severity] = mapped_column(status_enum(Severity), default=Severity.WARNING)
    enabled: Mapped[bool] = mapped_column(default=True)
    channels: Mapped[list[dict[str, Any]]] = mapped_column(JSONType(), default=list)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    last_evaluated_at: Mapped[datetime | None]


class AlertEvent(IdMixin, Base):
    """One episode of a rule's condition holding: when it started, fired and resolved."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_state", "state"),)

    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[AlertState] = mapped_column(status_enum(AlertState), default=AlertState.PENDING)
    value: Mapped[float | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notified: Mapped[bool] = mapped_column(default=False)
