"""OTLP request bodies (protobuf and JSON, plain and gzip) decode to the expected rows."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from platform_sdk.observe.otlp import decode_request
from platform_sdk.observe.schema import LOGS, METRICS, SPANS, series_key

from .samples import (
    PARENT,
    SPAN,
    T0,
    TRACE,
    kv,
    logs_json,
    logs_request,
    metrics_json,
    metrics_request,
    spans_json,
    spans_request,
)

PB = "application/x-protobuf"
JSON = "application/json"
LIMIT = 4 * 1024 * 1024


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1000 / 1e6, tz=UTC)


def test_protobuf_logs_become_rows_with_the_envelope() -> None:
    body = logs_request(3).SerializeToString()
    decoded = decode_request("logs", body, PB, None, max_bytes=LIMIT)
    assert decoded.dataset == "logs"
    assert decoded.table.schema.equals(LOGS)
    assert (decoded.accepted, decoded.rejected, decoded.message) == (3, 0, "")
    first = rows(decoded.table)[0]
    assert first["timestamp"] == at(T0)
    assert first["service"] == "checkout"
    assert first["project"] == "todo-app"
    assert first["session_id"] == "sess-1"
    assert first["user_id"] == "alice"  # enduser.id, as platform.user is absent
    assert first["trace_id"] == TRACE.hex()
    assert first["span_id"] == SPAN.hex()
    assert (first["severity"], first["severity_number"], first["body"]) == ("INFO", 9, "line 0")
    assert json.loads(first["attributes"]) == {"i": 0, "http.method": "GET"}
    assert json.loads(first["resource"])["platform.project"] == "todo-app"
    assert (first["scope"], first["scope_version"]) == ("app.logger", "1.0")


def test_attribute_values_of_every_type_become_json() -> None:
    request = logs_request(1)
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    del record.attributes[:]
    record.attributes.extend(
        [
            kv("s", "x"),
            kv("b", True),
            kv("i", -3),
            kv("d", 1.5),
            kv("inf", float("inf")),
            kv("raw", b"\x00\xff"),
            kv("list", [1, "two", [3.0]]),
            kv("map", {"k": {"nested": False}}),
        ]
    )
    record.body.CopyFrom(kv("", {"msg": "hi", "n": 2}).value)
    row = rows(decode_request("logs", request.SerializeToString(), PB, None, max_bytes=LIMIT).table)
    assert json.loads(row[0]["attributes"]) == {
        "s": "x",
        "b": True,
        "i": -3,
        "d": 1.5,
        "inf": "Infinity",
        "raw": "AP8=",
        "list": [1, "two", [3.0]],
        "map": {"k": {"nested": False}},
    }
    assert json.loads(row[0]["body"]) == {"msg": "hi", "n": 2}


def test_protobuf_spans_become_rows() -> None:
    body = spans_request(2).SerializeToString()
    decoded = decode_request("traces", body, PB, None, max_bytes=LIMIT)
    assert decoded.dataset == "spans"
    assert decoded.table.schema.equals(SPANS)
    first = rows(decoded.table)[0]
    assert first["trace_id"] == TRACE.hex()
    assert first["span_id"] == "0000000000000001"
    assert first["parent_span_id"] == PARENT.hex()
    assert (first["name"], first["kind"]) == ("GET /items/0", "server")
    assert (first["status_code"], first["status_message"]) == ("error", "boom")
    assert first["start"] == first["timestamp"] == at(T0)
    assert first["end"] == at(T0 + 1_500_000)
    assert first["duration_ms"] == pytest.approx(1.5)
    assert json.loads(first["attributes"]) == {"http.status_code": 500}
    (event,) = json.loads(first["events"])
    assert event["name"] == "exception"
    assert event["time"] == "2024-05-01T12:00:00.000001Z"
    assert event["attributes"] == {"exception.type": "ValueError"}
    (link,) = json.loads(first["links"])
    assert (link["trace_id"], link["span_id"]) == (TRACE.hex(), SPAN.hex())


def test_protobuf_metrics_of_every_kind_become_rows() -> None:
    body = metrics_request().SerializeToString()
    decoded = decode_request("metrics", body, PB, None, max_bytes=LIMIT)
    assert decoded.table.schema.equals(METRICS)
    by_name = {r["name"]: r for r in rows(decoded.table)}
    assert {r["kind"] for r in by_name.values()} == {
        "gauge",
        "sum",
        "histogram",
        "exponential_histogram",
        "summary",
    }
    assert by_name["cpu"]["value"] == 0.5
    requests = by_name["requests"]
    assert (requests["value"], requests["is_monotonic"]) == (42.0, True)
    assert requests["temporality"] == "cumulative"
    assert requests["start"] == at(T0 - 10**9)
    assert requests["labels"] == '{"method":"GET","route":"/b"}'  # sorted keys
    assert requests["series_key"] == series_key(
        "requests", {"route": "/b", "method": "GET"}, "todo-app"
    )
    latency = by_name["latency"]
    assert latency["bucket_counts"] == [1, 2, 3]
    assert latency["explicit_bounds"] == [5.0, 10.0]
    assert (latency["count"], latency["sum"], latency["min"], latency["max"]) == (6, 60.0, 1, 30)
    assert latency["temporality"] == "delta"
    assert latency["value"] is None
    exponential = json.loads(by_name["size"]["exponential"])
    assert exponential["scale"] == 2
    assert exponential["positive"] == {"offset": 1, "bucket_counts": [1, 2]}
    assert json.loads(by_name["gc"]["quantiles"]) == [{"quantile": 0.5, "value": 0.4}]
    assert all(r["project"] == "todo-app" and r["trace_id"] is None for r in by_name.values())


def test_series_key_ignores_label_order_and_separates_projects() -> None:
    a = series_key("m", {"a": 1, "b": "x"}, "p1")
    assert a == series_key("m", {"b": "x", "a": 1}, "p1")
    assert a != series_key("m", {"a": 1, "b": "x"}, "p2")
    assert a != series_key("m", {"a": 1}, "p1")
    assert len(a) == 64


def test_json_logs_with_hex_ids_decode_like_protobuf() -> None:
    decoded = decode_request(
        "logs", logs_json(), "application/json; charset=utf-8", None, max_bytes=LIMIT
    )
    first, second = rows(decoded.table)
    assert first["trace_id"] == TRACE.hex()  # upper-case hex in the body
    assert first["span_id"] == SPAN.hex()
    assert first["timestamp"] == at(T0)
    assert first["severity"] == "ERROR"  # from severityNumber 17, no text given
    assert json.loads(first["body"]) == {"msg": "oops"}
    assert json.loads(first["attributes"]) == {"n": 7, "ok": False}
    assert first["service"] == "checkout"
    # snake_case keys are accepted too; no time: the observed time is used
    assert second["timestamp"] == at(T0 + 5)
    assert second["observed_timestamp"] == at(T0 + 5)
    assert (second["severity"], second["trace_id"], second["body"]) == ("debug", None, None)


def test_a_log_without_any_time_gets_the_ingest_time() -> None:
    request = logs_request(1)
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.time_unix_nano = 0
    decoded = decode_request(
        "logs", request.SerializeToString(), PB, None, max_bytes=LIMIT, now_ns=T0 + 42_000
    )
    assert rows(decoded.table)[0]["timestamp"] == at(T0 + 42_000)


def test_json_spans_accept_int_enums_and_ignore_unknown_fields() -> None:
    decoded = decode_request("traces", spans_json(), JSON, None, max_bytes=LIMIT)
    (span,) = rows(decoded.table)
    assert (span["kind"], span["status_code"]) == ("client", "ok")
    assert span["parent_span_id"] is None
    assert span["duration_ms"] == pytest.approx(2.0)
    assert json.loads(span["links"])[0]["span_id"] == PARENT.hex()


def test_json_metrics_decode() -> None:
    decoded = decode_request("metrics", metrics_json(), JSON, None, max_bytes=LIMIT)
    (point,) = rows(decoded.table)
    assert (point["name"], point["kind"], point["value"]) == ("queue.depth", "sum", 3.5)
    assert (point["is_monotonic"], point["temporality"]) == (False, "cumulative")
    assert json.loads(point["labels"]) == {"queue": "q1"}


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_gzip_bodies_decode(fmt: str) -> None:
    body = logs_request(5).SerializeToString() if fmt == "protobuf" else logs_json()
    ctype = PB if fmt == "protobuf" else JSON
    plain = decode_request("logs", body, ctype, None, max_bytes=LIMIT)
    zipped = decode_request("logs", gzip.compress(body), ctype, "gzip", max_bytes=LIMIT)
    assert zipped.table.equals(plain.table)


def test_gzip_with_several_members_decodes_whole() -> None:
    body = logs_request(4).SerializeToString()
    half = len(body) // 2
    two = gzip.compress(body[:half]) + gzip.compress(body[half:])
    assert decode_request("logs", two, PB, "GZIP", max_bytes=LIMIT).accepted == 4
