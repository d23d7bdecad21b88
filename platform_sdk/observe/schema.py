"""The Arrow schemas of telemetry rows: logs, spans and metrics, one row per record or point.

Every row starts with the **correlation envelope**, the same columns in the same order for the
three datasets, so one query can join a log line with its span, its agent session and its user:

============  ========================  =====================================================
column        type                      from
============  ========================  =====================================================
timestamp     timestamp[us, UTC]        the record's time (see each dataset); never null
service       string                    resource attribute ``service.name``
project       string                    resource attribute ``platform.project``, as given
session_id    string                    resource ``platform.session`` (or ``session.id``)
user_id       string                    resource ``platform.user`` (or ``enduser.id``)
trace_id      string                    the record's trace id, 32 lowercase hex characters
span_id       string                    the record's span id, 16 lowercase hex characters
============  ========================  =====================================================

Absent values are nulls, never empty strings; an all-zero id is absent too.

**Attributes are JSON text, not Arrow MAPs.** ``attributes``, ``resource``, ``labels``,
``events`` and ``links`` hold a JSON object (or array) as a string. OTLP attribute values are
typed and nested (string, bool, int, double, array, key/value list, bytes), which a
``map<string, string>`` would flatten and a ``map<string, union>`` would make unreadable for
most engines; a JSON string keeps every value with its type, reads the same in DuckDB
(``attributes->>'$."http.method"'``; note the quotes around keys with dots), Spark, Trino and
pandas, and compresses well in Parquet. Bytes values become base64 strings and non-finite
doubles the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, as in OTLP/JSON.

Per dataset:

* ``logs``: ``timestamp`` is ``time_unix_nano``, else ``observed_time_unix_nano``, else the
  time of ingest. ``severity`` is the record's severity text, or the name of its severity
  number's range (``TRACE`` … ``FATAL``) when the text is empty. ``body`` is the body as
  text: a string body as is, any other value JSON-encoded.
* ``spans``: ``timestamp`` is the span's start (also in ``start``); ``kind`` is ``internal``,
  ``server``, ``client``, ``producer``, ``consumer`` or ``unspecified``; ``status_code`` is
  ``unset``, ``ok`` or ``error``; ``duration_ms`` is ``end - start`` in milliseconds.
* ``metrics``: one row per data point. ``kind`` is a :class:`MetricKind` value; ``value``
  holds gauge and sum points; histograms keep ``count``, ``sum``, ``bucket_counts``,
  ``explicit_bounds``, ``min`` and ``max``; exponential histograms keep their buckets in
  ``exponential`` and summaries their quantiles in ``quantiles`` (both JSON). ``timestamp``
  is the point's time and ``start`` its start time. ``series_key`` identifies the series
  (:func:`series_key`); it is the key of the ``metric_series`` catalogue table.

Storage names (``logs``, ``spans``, ``metrics``) differ from the OTLP endpoint names
(``logs``, ``traces``, ``metrics``): :data:`DATASET_OF` maps the one to the other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final, Literal

import pyarrow as pa

__all__ = [
    "DATASETS",
    "DATASET_OF",
    "ENVELOPE",
    "LOGS",
    "METRICS",
    "SCHEMAS",
    "SPANS",
    "Dataset",
    "Signal",
    "series_key",
]

Signal = Literal["logs", "traces", "metrics"]
"""An OTLP signal, as named by its endpoint (``/v1/traces``)."""
Dataset = Literal["logs", "spans", "metrics"]
"""A telemetry dataset, as named in storage (``telemetry/spans/``) and by the SQL views."""

DATASETS: Final[tuple[Dataset, ...]] = ("logs", "spans", "metrics")
DATASET_OF: Final[dict[Signal, Dataset]] = {"logs": "logs", "traces": "spans", "metrics": "metrics"}

TIMESTAMP = pa.timestamp("us", tz="UTC")
JSON = pa.string()
"""A column of JSON text (see the module docstring for why not MAP)."""

ENVELOPE: Final[tuple[pa.Field[Any], ...]] = (
    pa.field("timestamp", TIMESTAMP, nullable=False),
    pa.field("service", pa.string()),
    pa.field("project", pa.string()),
    pa.field("session_id", pa.string()),
    pa.field("user_id", pa.string()),
    pa.field("trace_id", pa.string()),
    pa.field("span_id", pa.string()),
)

_SOURCE: Final[tuple[pa.Field[Any], ...]] = (
    pa.field("resource", JSON),
    pa.field("scope", pa.string()),
    pa.field("scope_version", pa.string()),
)

LOGS: Final = pa.schema(
    [
        *ENVELOPE,
        pa.field("observed_timestamp", TIMESTAMP),
        pa.field("severity", pa.string()),
        pa.field("severity_number", pa.int32()),
        pa.field("body", pa.string()),
        pa.field("attributes", JSON),
        pa.field("event_name", pa.string()),
        pa.field("flags", pa.int64()),
        *_SOURCE,
    ]
)

SPANS: Final = pa.schema(
    [
        *ENVELOPE,
        pa.field("parent_span_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("start", TIMESTAMP),
        pa.field("end", TIMESTAMP),
        pa.field("duration_ms", pa.float64()),
        pa.field("status_code", pa.string()),
        pa.field("status_message", pa.string()),
        pa.field("trace_state", pa.string()),
        pa.field("attributes", JSON),
        pa.field("events", JSON),
        pa.field("links", JSON),
        *_SOURCE,
    ]
)

METRICS: Final = pa.schema(
    [
        *ENVELOPE,
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("series_key", pa.string()),
        pa.field("labels", JSON),
        pa.field("start", TIMESTAMP),
        pa.field("value", pa.float64()),
        pa.field("is_monotonic", pa.bool_()),
        pa.field("temporality", pa.string()),
        pa.field("count", pa.int64()),
        pa.field("sum", pa.float64()),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
        pa.field("bucket_counts", pa.list_(pa.int64())),
        pa.field("explicit_bounds", pa.list_(pa.float64())),
        pa.field("exponential", JSON),
        pa.field("quantiles", JSON),
        *_SOURCE,
    ]
)

SCHEMAS: Final[dict[Dataset, pa.Schema]] = {"logs": LOGS, "spans": SPANS, "metrics": METRICS}


def series_key(name: str, labels: Mapping[str, Any], project: str | None) -> str:
    """The hex SHA-256 identifying a metric series: its name, sorted labels and project.

    ``labels`` are the data point's attributes (not the resource's). The digest covers the
    canonical JSON ``[name, [[key, value], …sorted by key], project]``, so the same series
    gets the same key on every ingest, in every process, whatever the order of its labels.
    """
    canonical = json.dumps(
        [name, sorted(labels.items(), key=lambda kv: kv[0]), project],
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
