"""OTLP requests for the tests, built with the generated protobuf classes, and OTLP/JSON text."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.trace.v1.trace_pb2 import Status

T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z in nanoseconds
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")
PARENT = bytes.fromhex("eee19b7ec3c1b173")
RESOURCE = {
    "service.name": "checkout",
    "platform.project": "todo-app",
    "platform.session": "sess-1",
    "enduser.id": "alice",
}


def kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=any_value(value))


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(any_value(v) for v in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(kv(k, v) for k, v in value.items())
        return out
    return AnyValue(string_value=str(value))


def logs_request(count: int = 3, *, resource: dict[str, Any] | None = None) -> Any:
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.extend(kv(k, v) for k, v in (resource or RESOURCE).items())
    sl = rl.scope_logs.add()
    sl.scope.name, sl.scope.version = "app.logger", "1.0"
    for i in range(count):
        record = sl.log_records.add(
            time_unix_nano=T0 + i * 1000,
            severity_number=9,
            severity_text="INFO",
            trace_id=TRACE,
            span_id=SPAN,
        )
        record.body.string_value = f"line {i}"
        record.attributes.extend([kv("i", i), kv("http.method", "GET")])
    return request


def spans_request(count: int = 2) -> Any:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend(kv(k, v) for k, v in RESOURCE.items())
    ss = rs.scope_spans.add()
    ss.scope.name = "app.tracer"
    for i in range(count):
        span = ss.spans.add(
            trace_id=TRACE,
            span_id=(i + 1).to_bytes(8, "big"),
            parent_span_id=PARENT,
            name=f"GET /items/{i}",
            kind=2,
            start_time_unix_nano=T0,
            end_time_unix_nano=T0 + 1_500_000,
        )
        span.status.code, span.status.message = Status.STATUS_CODE_ERROR, "boom"
        span.attributes.append(kv("http.status_code", 500))
        span.events.add(time_unix_nano=T0 + 1000, name="exception").attributes.append(
            kv("exception.type", "ValueError")
        )
        span.links.add(trace_id=TRACE, span_id=SPAN)
    return request


def metrics_request() -> Any:
    """One metric of each of the five kinds, one point each."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(kv(k, v) for k, v in RESOURCE.items())
    sm = rm.scope_metrics.add()
    sm.scope.name = "app.meter"
    gauge = sm.metrics.add(name="cpu", unit="1")
    gauge.gauge.data_points.add(time_unix_nano=T0, as_double=0.5).attributes.append(kv("core", 0))
    total = sm.metrics.add(name="requests", unit="{request}")
    total.sum.is_monotonic = True
    total.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    point = total.sum.data_points.add(start_time_unix_nano=T0 - 10**9, time_unix_nano=T0)
    point.as_int = 42
    point.attributes.extend([kv("route", "/b"), kv("method", "GET")])
    hist = sm.metrics.add(name="latency", unit="ms")
    hist.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    hist.histogram.data_points.add(
        time_unix_nano=T0,
        count=6,
        sum=60.0,
        bucket_counts=[1, 2, 3],
        explicit_bounds=[5.0, 10.0],
        min=1.0,
        max=30.0,
    )
    exp = sm.metrics.add(name="size", unit="By")
    ep = exp.exponential_histogram.data_points.add(time_unix_nano=T0, count=3, sum=7.0, scale=2)
    ep.positive.offset = 1
    ep.positive.bucket_counts.extend([1, 2])
    summary = sm.metrics.add(name="gc", unit="s")
    sp = summary.summary.data_points.add(time_unix_nano=T0, count=4, sum=2.0)
    sp.quantile_values.add(quantile=0.5, value=0.4)
    return request


def _attrs(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in pairs.items()]


def logs_json() -> bytes:
    """An OTLP/JSON logs request as the specification shows it: hex ids, lowerCamelCase."""
    return json.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": _attrs(RESOURCE)},
                    "scopeLogs": [
                        {
                            "scope": {"name": "app.logger"},
                            "logRecords": [
                                {
                                    "timeUnixNano": str(T0),
                                    "severityNumber": 17,
                                    "traceId": TRACE.hex().upper(),
                                    "spanId": SPAN.hex(),
                                    "body": {
                                        "kvlistValue": {
                                            "values": [
                                                {"key": "msg", "value": {"stringValue": "oops"}}
                                            ]
                                        }
                                    },
                                    "attributes": [
                                        {"key": "n", "value": {"intValue": "7"}},
                                        {"key": "ok", "value": {"boolValue": False}},
                                    ],
                                },
                                {"observed_time_unix_nano": T0 + 5, "severityText": "debug"},
                            ],
                        }
                    ],
                }
            ]
        }
    ).encode()


def spans_json() -> bytes:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": _attrs(RESOURCE)},
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": TRACE.hex(),
                                    "spanId": SPAN.hex(),
                                    "parentSpanId": "",
                                    "name": "root",
                                    "kind": 3,
                                    "startTimeUnixNano": str(T0),
                                    "endTimeUnixNano": str(T0 + 2_000_000),
                                    "status": {"code": "STATUS_CODE_OK"},
                                    "links": [{"traceId": TRACE.hex(), "spanId": PARENT.hex()}],
                                    "unknownField": {"ignored": True},
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    ).encode()


def metrics_json() -> bytes:
    return json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {"attributes": _attrs(RESOURCE)},
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "queue.depth",
                                    "unit": "1",
                                    "sum": {
                                        "aggregationTemporality": 2,
                                        "isMonotonic": False,
                                        "dataPoints": [
                                            {
                                                "timeUnixNano": str(T0),
                                                "asDouble": 3.5,
                                                "attributes": _attrs({"queue": "q1"}),
                                                "exemplars": [
                                                    {
                                                        "traceId": TRACE.hex(),
                                                        "spanId": SPAN.hex(),
                                                        "asInt": "1",
                                                    }
                                                ],
                                            }
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    ).encode()
