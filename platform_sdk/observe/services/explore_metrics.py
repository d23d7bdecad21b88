"""Metric series as an actor, downsampled in SQL: ``p.observe.metrics.query(…)``.

:func:`query_metric` answers one row per time bucket (and per group when ``group_by`` names
label keys) with columns ``time`` (the bucket's start), the group's label values and
``value``. The downsampling happens in DuckDB — ``time_bucket(step, timestamp, epoch)`` in one
``GROUP BY`` — so a week of 10-second points comes back as ~200 rows, not 60 000. Buckets are
aligned on multiples of the step since the Unix epoch (the first one may start before
``since``); buckets without points are absent. ``step_seconds=None`` picks a round step that
gives about :data:`TARGET_POINTS` buckets.

Aggregations (``agg``) over the points of each bucket and group:

=============  ===============================================================================
avg, sum,      of the values of gauge and sum points; for histograms: the mean observation
min, max       (``Σsum / Σcount``), the sum of observations, the smallest and largest observed
count          the number of points; for histograms, the number of observations
last           the value of the latest point (gauges and sums)
rate           per second: the increase of each series over the bucket divided by the step,
               summed over the group's series. For cumulative sums the increase is the delta to
               the series' previous point, a negative delta (a counter reset) counting as the
               new value; delta sums are increases already. Histograms: observations per second
p50 p90 p99    percentiles of gauge and sum values (``quantile_cont``); for explicit-bucket
               histograms, estimated from the bucket counts summed over the bucket: linear
               interpolation inside the bucket holding the rank, as Prometheus does (the first
               bucket starts at 0, an answer in the overflow bucket is its lower bound)
=============  ===============================================================================

Cumulative histograms are turned into deltas per series the same way as counters. So that the
first bucket's increases have a baseline, points up to ``max(step, 5 min)`` before ``since``
are read (and not reported). Exponential histograms and summaries give only count, sum, avg,
min, max and rate.

Labels filter by equality on the point's attributes (``labels={"route": "/a"}``; ``None``
means the label is absent); values compare as their JSON text (``true``, ``3``, ``"a"`` as
``a``). Every name, label key and value is bound as a parameter.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.db import release
from platform_sdk.errors import ValidationFailed
from platform_sdk.observe.explore_base import (
    auto_step,
    json_path,
    relations,
    visibility,
    window,
)
from platform_sdk.observe.query import run_sql

__all__ = ["AGGREGATIONS", "MAX_POINTS", "query_metric"]

MAX_POINTS: Final = 10_000
"""The most buckets one query may ask for (``(until - since) / step``)."""
AGGREGATIONS: Final = ("avg", "sum", "min", "max", "count", "last", "rate", "p50", "p90", "p99")
_LOOKBACK: Final = timedelta(minutes=5)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_PERCENTILES: Final = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
_MAX_GROUP_KEYS: Final = 16

_SIMPLE: Final = {
    "avg": "coalesce(avg(value), sum(d_sum) / nullif(sum(d_count), 0))",
    "sum": "coalesce(sum(value), sum(d_sum))",
    "min": "coalesce(min(value), min(h_min))",
    "max": "coalesce(max(value), max(h_max))",
    "count": "CASE WHEN count(value) > 0 THEN count(value) ELSE sum(d_count) END",
    "last": "arg_max(value, timestamp) FILTER (WHERE value IS NOT NULL)",
    "rate": "coalesce(sum(d_value), sum(d_count)) / $step_seconds",
}

# Points of the metric with their group's label values, then the increase of each point over
# its series' previous one (counters and cumulative histograms; resets count as the new value).
_POINTS: Final = """
pts AS (
    SELECT timestamp, series_key, temporality, value, "count" AS h_count, "sum" AS h_sum,
           "min" AS h_min, "max" AS h_max, bucket_counts, explicit_bounds{groups}
    FROM metrics WHERE name = $name{labels}
),
prev AS (
    SELECT *, lag(value) OVER w AS p_value, lag(h_count) OVER w AS p_count,
           lag(h_sum) OVER w AS p_sum, lag(bucket_counts) OVER w AS p_buckets
    FROM pts WINDOW w AS (PARTITION BY series_key ORDER BY timestamp)
),
inc AS (
    SELECT time_bucket($step, timestamp, $origin) AS time, timestamp, value, h_min, h_max,
           explicit_bounds{gcols},
           CASE WHEN temporality = 'delta' THEN value WHEN p_value IS NULL THEN NULL
                WHEN value < p_value THEN value ELSE value - p_value END AS d_value,
           CASE WHEN temporality = 'delta' THEN h_count WHEN p_count IS NULL THEN NULL
                WHEN h_count < p_count THEN h_count ELSE h_count - p_count END AS d_count,
           CASE WHEN temporality = 'delta' THEN h_sum WHEN p_count IS NULL THEN NULL
                WHEN h_count < p_count THEN h_sum ELSE h_sum - p_sum END AS d_sum,
           CASE WHEN temporality = 'delta' THEN bucket_counts WHEN p_count IS NULL THEN NULL
                WHEN h_count < p_count OR len(bucket_counts) <> len(p_buckets)
                     THEN bucket_counts
                ELSE list_transform(bucket_counts, lambda x, i: x - p_buckets[i])
           END AS d_buckets
    FROM prev WHERE timestamp >= $since
)"""

# Histogram percentiles: bucket counts summed per (time, group, bucket), the cumulative count
# up to each bucket, then interpolation inside the first bucket reaching the rank.
_HISTOGRAM_QUANTILE: Final = """,
hb AS (
    SELECT time{gcols}, unnest(d_buckets) AS n, unnest(range(1, len(d_buckets) + 1)) AS i,
           explicit_bounds AS eb
    FROM inc WHERE len(d_buckets) > 1 AND len(d_buckets) = len(explicit_bounds) + 1
),
hs AS (
    SELECT time{gcols}, CASE WHEN i > 1 THEN eb[i - 1] END AS lo,
           CASE WHEN i <= len(eb) THEN eb[i] END AS hi, sum(n) AS n
    FROM hb GROUP BY ALL
),
hr AS (
    SELECT *, sum(n) OVER (PARTITION BY time{gcols} ORDER BY hi ASC NULLS LAST
                           ROWS UNBOUNDED PRECEDING) AS cum,
           sum(n) OVER (PARTITION BY time{gcols}) AS total,
           coalesce(lo, least(0.0, hi)) AS lo_eff
    FROM hs
),
hq AS (
    SELECT time{gcols},
           arg_min(CASE WHEN hi IS NULL THEN lo
                        ELSE lo_eff + (hi - lo_eff) * ($q * total - (cum - n)) / n END,
                   coalesce(hi, 'infinity'::DOUBLE))
               FILTER (WHERE n > 0 AND cum >= $q * total) AS value
    FROM hr GROUP BY ALL
),
gq AS (
    SELECT time{gcols}, quantile_cont(value, $q) AS value
    FROM inc WHERE value IS NOT NULL GROUP BY ALL
)
SELECT * FROM gq UNION ALL BY NAME SELECT * FROM hq"""


def _label_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _sql(
    agg: str, labels: Mapping[str, Any], group_by: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    conds = []
    for i, (key, value) in enumerate(labels.items()):
        params[f"lk{i}"] = json_path(key)
        if value is None:
            conds.append(f" AND json_extract_string(labels, $lk{i}) IS NULL")
        else:
            conds.append(f" AND json_extract_string(labels, $lk{i}) = $lv{i}")
            params[f"lv{i}"] = _label_text(value)
    groups = "".join(f", json_extract_string(labels, $gk{i}) AS g{i}" for i in range(len(group_by)))
    params.update({f"gk{i}": json_path(k) for i, k in enumerate(group_by)})
    gcols = "".join(f", g{i}" for i in range(len(group_by)))
    head = "WITH" + _POINTS.format(groups=groups, labels="".join(conds), gcols=gcols)
    if agg in _PERCENTILES:
        params["q"] = _PERCENTILES[agg]
        body = _HISTOGRAM_QUANTILE.format(gcols=gcols)
    else:
        body = f"\nSELECT time{gcols}, ({_SIMPLE[agg]})::DOUBLE AS value FROM inc GROUP BY ALL"
    return f"SELECT * FROM ({head}{body}) ORDER BY time{gcols}", params  # noqa: S608


def _check(
    agg: str, labels: Mapping[str, Any] | None, group_by: Sequence[str] | None
) -> tuple[dict[str, Any], list[str]]:
    if agg not in AGGREGATIONS:
        raise ValidationFailed(f"unknown agg {agg!r}: use one of {', '.join(AGGREGATIONS)}")
    keys = list(group_by or [])
    if isinstance(group_by, str):
        keys = [group_by]
    if len(keys) > _MAX_GROUP_KEYS or len(set(keys)) != len(keys):
        raise ValidationFailed(f"group_by takes up to {_MAX_GROUP_KEYS} distinct label keys")
    if {"time", "value"} & set(keys):
        raise ValidationFailed("group_by cannot name the result columns 'time' or 'value'")
    checked = dict(labels or {})
    for key, value in checked.items():
        json_path(key)
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValidationFailed(f"label {key!r}: a value is a string, number or bool")
    return checked, keys


def query_metric(
    db: Session,
    *,
    actor: Actor,
    name: str,
    project: str | uuid.UUID | None = None,
    labels: Mapping[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    step_seconds: float | None = None,
    agg: str = "avg",
    group_by: Sequence[str] | None = None,
) -> pa.Table:
    """The metric ``name`` downsampled to ``step_seconds`` buckets with ``agg`` (see the module
    docstring): columns ``time``, one per ``group_by`` key, ``value``; by time, then group."""
    if not name:
        raise ValidationFailed("name the metric to query")
    checked, keys = _check(agg, labels, group_by)
    lo, hi = window(since, until)
    assert lo is not None
    assert hi is not None
    step = auto_step(hi - lo) if step_seconds is None else step_seconds
    if not (isinstance(step, int | float) and math.isfinite(step) and step > 0):
        raise ValidationFailed(f"step_seconds must be a positive number, not {step_seconds!r}")
    if (hi - lo).total_seconds() / step > MAX_POINTS:
        raise ValidationFailed(
            f"a step of {step:g} s gives more than {MAX_POINTS} buckets from since to until: "
            "use a larger step or a shorter range"
        )
    width = timedelta(seconds=step)
    visible = visibility(db, actor, project=project)
    views = relations(
        db, visible, since=lo - max(width, _LOOKBACK), until=hi, datasets=("metrics",)
    )
    release(db)  # no transaction while DuckDB runs
    query, params = _sql(agg, checked, keys)
    params.update(name=name, step=width, origin=_EPOCH, since=lo)
    if agg == "rate":
        params["step_seconds"] = float(step)
    result = run_sql(
        query, views, max_rows=visible.max_rows, timeout=visible.timeout, params=params
    )
    table = result.table
    utc = pa.timestamp("us", tz="UTC")
    table = table.set_column(0, "time", table.column("time").cast(utc))
    return table.rename_columns(["time", *keys, "value"])
