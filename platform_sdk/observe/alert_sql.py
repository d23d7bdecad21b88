"""The SQL of alert rules: generated for metric and log rules, checked for SQL rules.

Generated queries never contain a user's string. Every value (metric name, label keys and
values, level, search text, service) is a ``$name`` parameter; the SQL text is fixed by the
rule's *shape* (which filters exist, which aggregate), and the values travel next to it in
``params``. The rule stores both (``query``; ``spec["params"]``) and the evaluator replays
them, so what a user reads in ``query`` is exactly what runs.

Three parameters are bound at evaluation time, never stored: ``$since`` and ``$until`` (the
window ``[now - window, now)``) and ``$window`` (its length in seconds). SQL rules may use
them too; any other parameter is refused. A query is bound only the parameters it names
(DuckDB rejects unused ones), which :func:`check_select` reports.

Metric aggregates (over ``value``, the number of gauge and sum points; histogram points carry
no ``value`` and are ignored, except by ``count``):

=======  ==============================================================================
avg      mean of the points in the window
sum      total of the points
min/max  smallest / largest point
count    number of points (0 when there are none)
last     the latest point's value
rate     increase per second over the window, for monotonic sums: per series, the sum
         of the differences between consecutive points (a drop is a counter reset, which
         counts the new value; delta points count as they are), summed over series,
         divided by the window. The increase before the window's first point is not seen
=======  ==============================================================================

A log rule's value is the number of matching records: ``level`` compares the severity text
case-insensitively (exact level, not "at least"), ``q`` is a case-insensitive substring of
the body (``ILIKE`` with ``%``, ``_`` and ``\\`` escaped), ``service`` matches exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

import duckdb
import pyarrow as pa

from platform_sdk.errors import PlatformError
from platform_sdk.observe.query import run_sql
from platform_sdk.observe.schema import DATASETS, SCHEMAS

__all__ = [
    "MAX_QUERY_CHARS",
    "RUNTIME_PARAMS",
    "Aggregation",
    "check_select",
    "dry_run",
    "like_pattern",
    "log_query",
    "metric_query",
]

MAX_QUERY_CHARS = 100_000
RUNTIME_PARAMS: Final = frozenset({"since", "until", "window"})
"""Parameters bound at each evaluation: the window's bounds and its length in seconds."""


class Aggregation(enum.StrEnum):
    """How a metric rule reduces the points of its window to one value."""

    AVG = "avg"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    LAST = "last"
    RATE = "rate"


_WINDOW = "timestamp >= $since AND timestamp < $until"
_RATE = """SELECT sum(increase) / $window::DOUBLE AS value FROM (
  SELECT CASE
    WHEN temporality = 'delta' THEN value
    WHEN previous IS NULL THEN 0
    WHEN value >= previous THEN value - previous
    ELSE value
  END AS increase
  FROM (
    SELECT value, temporality,
      lag(value) OVER (PARTITION BY series_key ORDER BY timestamp) AS previous
    FROM metrics
    WHERE {where}
  )
)"""
_AGGREGATE = {
    Aggregation.AVG: "avg(value)",
    Aggregation.SUM: "sum(value)",
    Aggregation.MIN: "min(value)",
    Aggregation.MAX: "max(value)",
    Aggregation.COUNT: "count(*)",
    Aggregation.LAST: "arg_max(value, timestamp)",
}


def check_select(query: str) -> tuple[str, frozenset[str]]:
    """``query`` without trailing ``;`` and the ``$names`` it uses, if it is one ``SELECT``.

    The same rule as the telemetry sandbox (:func:`platform_sdk.observe.query.run_sql`):
    one statement, a ``SELECT``; raises ``ValueError`` with a message for people.
    """
    text = query.strip().rstrip(";").strip()
    if not text:
        raise ValueError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise ValueError(f"SQL syntax error: {exc}") from None
    if len(statements) != 1:
        raise ValueError(f"send one statement (got {len(statements)})")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise ValueError(f"only a SELECT is allowed (got {statement.type.name})")
    return text, frozenset(statement.named_parameters)


def _empty_view(name: str) -> pa.Table:
    schema: pa.Schema = SCHEMAS[name]  # type: ignore[index]
    schema = schema.append(pa.field("date", pa.string())).append(pa.field("hour", pa.int32()))
    return schema.empty_table()


def dry_run(query: str, params: Mapping[str, Any]) -> None:
    """Run ``query`` over empty ``logs``/``spans``/``metrics`` views: names, types and
    parameters resolve, and the first column is a number (``ValueError`` otherwise)."""
    try:
        result = run_sql(
            query,
            {name: _empty_view(name) for name in DATASETS},
            max_rows=1,
            timeout=5.0,
            params=dict(params) or None,
        )
    except PlatformError as exc:
        raise ValueError(exc.message) from None
    if not result.table.num_columns:
        raise ValueError("the query returns no column")
    first = result.table.schema.field(0)
    kind = first.type
    numeric = (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )
    if not numeric:
        raise ValueError(
            f"the first column ({first.name}) must be a number, not {kind}: "
            "the rule compares it with the threshold"
        )


def like_pattern(text: str) -> str:
    """``%text%`` for ``ILIKE … ESCAPE '\\'``, with the wildcards in ``text`` escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def metric_query(
    metric: str,
    agg: Aggregation,
    labels: Mapping[str, str],
    service: str | None,
) -> tuple[str, dict[str, Any]]:
    """The SQL and stored parameters of a metric rule (see the module docstring)."""
    params: dict[str, Any] = {"metric": metric}
    where = ["name = $metric", _WINDOW]
    if agg != Aggregation.COUNT:
        where.append("value IS NOT NULL")
    for i, (key, value) in enumerate(sorted(labels.items())):
        params[f"label_key_{i}"] = f'$."{key}"'
        params[f"label_value_{i}"] = value
        where.append(f"json_extract_string(labels, $label_key_{i}) = $label_value_{i}")
    if service is not None:
        params["service"] = service
        where.append("service = $service")
    condition = "\n  AND ".join(where)
    if agg == Aggregation.RATE:
        return _RATE.format(where=condition.replace("\n", "\n    ")), params
    return f"SELECT {_AGGREGATE[agg]} AS value\nFROM metrics\nWHERE {condition}", params


def log_query(level: str | None, q: str | None, service: str | None) -> tuple[str, dict[str, Any]]:
    """The SQL and stored parameters of a log-count rule (see the module docstring)."""
    params: dict[str, Any] = {}
    where = [_WINDOW]
    if level is not None:
        params["level"] = level.upper()
        where.append("upper(severity) = $level")
    if q is not None:
        params["q"] = like_pattern(q)
        where.append("body ILIKE $q ESCAPE '\\'")
    if service is not None:
        params["service"] = service
        where.append("service = $service")
    condition = "\n  AND ".join(where)
    return f"SELECT count(*) AS value\nFROM logs\nWHERE {condition}", params
