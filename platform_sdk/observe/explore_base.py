"""What the typed telemetry helpers share: the actor's relations, time windows, filters.

The helpers of :mod:`platform_sdk.observe.services.explore` (logs, traces, metrics, session
timelines) and the live tail (:mod:`platform_sdk.observe.tail`) all see telemetry exactly as
:func:`platform_sdk.observe.services.query.sql` does: :func:`visible_relations` builds the
``logs``/``spans``/``metrics`` datasets already filtered to the projects the actor may
``observe:read`` (:func:`~platform_sdk.observe.scope.actor_scope`), narrowed further to one
project when the caller names one. A project the actor cannot read is :class:`NotFound`, the
same answer as a project that does not exist.

The helpers never paste a value into SQL: every value is bound as a ``$name`` parameter of
:func:`~platform_sdk.observe.query.run_sql`. This module holds the pieces that turn user input
into those parameters: severity thresholds (:func:`level_floor`), literal substring patterns
for ``ILIKE`` (:func:`like_pattern`), time windows (:func:`window`), JSON paths of label keys
(:func:`json_path`) and trace ids (:func:`check_trace_id`).

Severity levels follow the OpenTelemetry ranges of ``severity_number``: trace 1-4, debug 5-8,
info 9-12, warn 13-16, error 17-20, fatal 21-24. A record without a number (0 or null) is
placed by its severity text (``WARNING`` counts as warn, ``CRITICAL`` as fatal).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow.dataset as ds
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.errors import BadRequest, NotFound, ValidationFailed
from platform_sdk.observe.query import Scope, telemetry_relations
from platform_sdk.observe.scope import ActorScope, actor_scope, project_labels
from platform_sdk.observe.telemetry import telemetry_of

__all__ = [
    "LEVELS",
    "TARGET_POINTS",
    "Visible",
    "as_utc",
    "auto_step",
    "check_trace_id",
    "json_path",
    "level_floor",
    "level_names",
    "like_pattern",
    "relations",
    "row_level",
    "visibility",
    "visible_relations",
    "window",
]

LEVELS: Final[dict[str, int]] = {
    "trace": 1,
    "debug": 5,
    "info": 9,
    "warn": 13,
    "error": 17,
    "fatal": 21,
}
"""The lowest ``severity_number`` of each level."""
TARGET_POINTS: Final = 200
"""About how many buckets a metric query gets when it names no step."""
_NICE_STEPS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                      21600, 43200, 86400)  # fmt: skip
_ALIASES: Final = {"warning": "warn", "critical": "fatal", "information": "info", "err": "error"}
_TRACE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Visible:
    """The actor's scope, the scope actually applied (narrowed to ``project``) and limits."""

    seen: ActorScope
    scope: Scope
    project: str | None
    max_rows: int
    timeout: float


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive datetimes are taken to be UTC)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def window(
    since: datetime | None,
    until: datetime | None,
    *,
    default: timedelta | None = timedelta(hours=1),
) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` in UTC. With a ``default`` span, a missing ``until`` is now and a
    missing ``since`` is ``until - default``; without one, missing bounds stay open."""
    lo = as_utc(since) if since is not None else None
    hi = as_utc(until) if until is not None else None
    if default is not None:
        hi = hi or datetime.now(UTC)
        lo = lo or hi - default
    if lo is not None and hi is not None and lo >= hi:
        raise BadRequest("since must be before until")
    return lo, hi


def _resolve(db: Session, seen: ActorScope, project: str | uuid.UUID) -> str:
    """The ``owner/name`` label of ``project`` (a label or an id); NotFound unless readable."""
    pid: uuid.UUID | None = project if isinstance(project, uuid.UUID) else None
    if pid is None:
        try:
            pid = uuid.UUID(str(project))
        except ValueError:
            pid = None
    if pid is not None:
        label = project_labels(db, {pid}).get(pid) if pid in seen.project_ids else None
    else:
        allowed = seen.scope.projects  # None: a global reader, who may read every project
        known = set(project_labels(db).values()) if allowed is None else allowed
        label = str(project) if str(project) in known else None
    if label is None:
        raise NotFound(f"no project {str(project)!r}")
    return label


def visibility(db: Session, actor: Actor, *, project: str | uuid.UUID | None = None) -> Visible:
    """What ``actor`` may read, narrowed to ``project`` when given (NotFound if unreadable)."""
    seen = actor_scope(db, actor)
    label = _resolve(db, seen, project) if project is not None else None
    scope = Scope(frozenset({label}), unowned=False) if label is not None else seen.scope
    settings = runtime_of(db).settings
    return Visible(seen, scope, label, settings.query_max_rows, settings.query_timeout)


def relations(
    db: Session,
    visible: Visible,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    datasets: Collection[str] = ("logs", "spans", "metrics"),
) -> dict[str, ds.Dataset]:
    """The telemetry views restricted to ``visible`` (and pruned to ``[since, until)``)."""
    source = telemetry_of(runtime_of(db)).source
    return telemetry_relations(source, visible.scope, since=since, until=until, datasets=datasets)


def visible_relations(
    db: Session,
    actor: Actor,
    *,
    project: str | uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    datasets: Collection[str] = ("logs", "spans", "metrics"),
) -> tuple[Visible, dict[str, ds.Dataset]]:
    """:func:`visibility` and :func:`relations` in one call."""
    visible = visibility(db, actor, project=project)
    return visible, relations(db, visible, since=since, until=until, datasets=datasets)


def level_floor(level: str) -> int:
    """The lowest ``severity_number`` of ``level`` (``trace`` … ``fatal``, any case)."""
    name = level.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in LEVELS:
        raise ValidationFailed(
            f"unknown level {level!r}: use one of {', '.join(LEVELS)}",
            details={"level": level},
        )
    return LEVELS[name]


def level_names(floor: int) -> list[str]:
    """Severity texts (upper case) at or above ``floor``, for records without a number."""
    names = [n.upper() for n, lo in LEVELS.items() if lo >= floor]
    names += [a.upper() for a, n in _ALIASES.items() if LEVELS[n] >= floor]
    return names


LEVEL_SQL: Final = (
    "(CASE WHEN coalesce(severity_number, 0) > 0 THEN severity_number >= $level_floor "
    "ELSE list_contains($level_names, upper(severity)) END)"
)
"""The SQL condition of a minimum level, with parameters ``level_floor`` and ``level_names``."""


def row_level(number: Any, text: Any) -> int:
    """The ``severity_number`` a record counts as (from its text when it has none; 0 if
    neither says)."""
    if isinstance(number, int) and number > 0:
        return number
    if isinstance(text, str):
        name = text.strip().lower()
        name = _ALIASES.get(name, name)
        return LEVELS.get(name, 0)
    return 0


def like_pattern(text: str) -> str:
    """An ``ILIKE … ESCAPE '\\'`` pattern matching ``text`` literally anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def json_path(key: str) -> str:
    """The JSON path of a top-level key (dots and quotes in it taken literally)."""
    if not isinstance(key, str) or not key:
        raise ValidationFailed("a label key must be a non-empty string")
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_trace_id(trace_id: str) -> str:
    """``trace_id`` in lower case; ValidationFailed unless it is 32 hex digits."""
    value = str(trace_id).strip().lower()
    if not _TRACE_ID.fullmatch(value) or value == "0" * 32:
        raise ValidationFailed(
            f"a trace id is 32 hex digits (not all zero), not {trace_id!r}",
            details={"trace_id": trace_id},
        )
    return value


def auto_step(span: timedelta, points: int = TARGET_POINTS) -> int:
    """A round step in seconds giving about ``points`` buckets over ``span``."""
    raw = span.total_seconds() / points
    for step in _NICE_STEPS:
        if step >= raw:
            return step
    return math.ceil(raw / 86400) * 86400
