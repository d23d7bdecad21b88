"""OTLP metrics to Arrow rows: one row of the ``metrics`` dataset per data point.

The five OTLP data types map onto one wide schema (:data:`platform_sdk.observe.schema.METRICS`)
so that one SQL view answers them all:

* gauge and sum points: ``value`` (``as_double`` or ``as_int`` as a double); sums also carry
  ``is_monotonic`` and ``temporality`` (``delta``, ``cumulative`` or ``unspecified``);
* histogram points: ``count``, ``sum``, ``min``, ``max``, ``bucket_counts`` (one more than
  ``explicit_bounds``, or both empty) and ``temporality``;
* exponential histogram points: ``count``, ``sum``, ``min``, ``max`` and their buckets in the
  ``exponential`` JSON column (``scale``, ``zero_count``, ``zero_threshold``, ``positive``
  and ``negative`` as ``{"offset", "bucket_counts"}``);
* summary points: ``count``, ``sum`` and ``quantiles`` as JSON ``[{"quantile", "value"}]``.

``labels`` is the point's attributes as JSON with sorted keys, and ``series_key`` the digest of
name, labels and project (:func:`platform_sdk.observe.schema.series_key`). Exemplars are not
kept. Rejected, and counted as such: points of a metric without a name, points without a time
or with one beyond 2262, number points without a value (unless flagged "no recorded value"),
histogram points whose bucket counts do not fit their bounds.
"""

from __future__ import annotations

import math
from typing import Any, Final

import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from platform_sdk.observe.otlp_rows import (
    Envelope,
    InvalidRecord,
    Rejects,
    attributes,
    check_time,
    envelope,
    to_json,
)
from platform_sdk.observe.schema import METRICS, series_key

__all__ = ["metric_rows"]

_TEMPORALITY: Final = {0: "unspecified", 1: "delta", 2: "cumulative"}
_MAX_COUNT: Final = 2**63 - 1
"""OTLP counts are uint64; the Arrow columns are int64, as most engines have no uint64."""
_NO_RECORDED_VALUE: Final = 1
"""``DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK``."""


def _number(point: Any) -> float | None:
    kind = point.WhichOneof("value")
    if kind == "as_double":
        return float(point.as_double)
    if kind == "as_int":
        return float(point.as_int)
    if point.flags & _NO_RECORDED_VALUE:
        return None
    raise InvalidRecord("without a value")


def _count(value: int) -> int:
    if value > _MAX_COUNT:
        raise InvalidRecord("with a count beyond 2**63 - 1")
    return value


def _optional(point: Any, field: str) -> float | None:
    return float(getattr(point, field)) if point.HasField(field) else None


def _finite(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


class _Builder:
    """Fills the columns, one point at a time."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in METRICS.names}
        self.rejects = Rejects()

    def add(
        self,
        env: Envelope,
        scope: Any,
        metric: Any,
        kind: str,
        point: Any,
        fields: dict[str, Any],
    ) -> None:
        labels = attributes(point.attributes)
        ts = check_time(point.time_unix_nano, "time") if point.time_unix_nano else None
        if ts is None:
            raise InvalidRecord("without a time")
        start = point.start_time_unix_nano
        start_us = check_time(start, "start time") if start else None
        cols = self.cols
        cols["timestamp"].append(ts)
        cols["service"].append(env.service)
        cols["project"].append(env.project)
        cols["session_id"].append(env.session_id)
        cols["user_id"].append(env.user_id)
        cols["trace_id"].append(None)
        cols["span_id"].append(None)
        cols["name"].append(metric.name)
        cols["description"].append(metric.description or None)
        cols["unit"].append(metric.unit or None)
        cols["kind"].append(kind)
        cols["series_key"].append(series_key(metric.name, labels, env.project))
        cols["labels"].append(to_json(dict(sorted(labels.items()))))
        cols["start"].append(start_us)
        for name in (
            "value",
            "is_monotonic",
            "temporality",
            "count",
            "sum",
            "min",
            "max",
            "bucket_counts",
            "explicit_bounds",
            "exponential",
            "quantiles",
        ):
            cols[name].append(fields.get(name))
        cols["resource"].append(env.resource)
        cols["scope"].append(scope.name or None)
        cols["scope_version"].append(scope.version or None)


def _fields(kind: str, data: Any, point: Any) -> dict[str, Any]:
    """The kind-specific columns of one point (InvalidRecord when it cannot be a row)."""
    if kind == "gauge":
        return {"value": _number(point)}
    if kind == "sum":
        return {
            "value": _number(point),
            "is_monotonic": data.is_monotonic,
            "temporality": _TEMPORALITY.get(data.aggregation_temporality, "unspecified"),
        }
    if kind == "summary":  # its sum has no presence: always set
        quantiles = [
            {"quantile": _finite(q.quantile), "value": _finite(q.value)}
            for q in point.quantile_values
        ]
        return {"count": _count(point.count), "sum": point.sum, "quantiles": to_json(quantiles)}
    common: dict[str, Any] = {"count": _count(point.count), "sum": _optional(point, "sum")}
    common.update(
        min=_optional(point, "min"),
        max=_optional(point, "max"),
        temporality=_TEMPORALITY.get(data.aggregation_temporality, "unspecified"),
    )
    if kind == "histogram":
        counts = [_count(n) for n in point.bucket_counts]
        bounds = list(point.explicit_bounds)
        if (counts or bounds) and len(counts) != len(bounds) + 1:
            raise InvalidRecord("with bucket_counts that do not fit explicit_bounds")
        return {**common, "bucket_counts": counts, "explicit_bounds": bounds}
    exponential = {
        "scale": point.scale,
        "zero_count": point.zero_count,
        "zero_threshold": _finite(point.zero_threshold),
        "positive": {
            "offset": point.positive.offset,
            "bucket_counts": list(point.positive.bucket_counts),
        },
        "negative": {
            "offset": point.negative.offset,
            "bucket_counts": list(point.negative.bucket_counts),
        },
    }
    return {**common, "exponential": to_json(exponential)}


def metric_rows(request: ExportMetricsServiceRequest, now_ns: int) -> tuple[pa.Table, Rejects]:
    """The rows of the ``metrics`` dataset in ``request``, and what was rejected."""
    del now_ns  # every point carries its own time
    builder = _Builder()
    for resource_metrics in request.resource_metrics:
        env = envelope(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue  # a metric without data has no points to keep or reject
                data = getattr(metric, kind)
                if not metric.name:
                    builder.rejects.add("of a metric without a name", len(data.data_points))
                    continue
                for point in data.data_points:
                    try:
                        builder.add(env, scope, metric, kind, point, _fields(kind, data, point))
                    except InvalidRecord as exc:
                        builder.rejects.add(str(exc))
    return pa.Table.from_pydict(builder.cols, schema=METRICS), builder.rejects
