"""Malformed, oversized and partly invalid OTLP requests; response and Status bodies."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from platform_sdk.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from platform_sdk.observe.otlp import (
    decode_request,
    encode_response,
    response_content_type,
    status_body,
)
from platform_sdk.observe.schema import SCHEMAS

from .samples import TRACE, logs_json, logs_request, metrics_request, spans_request

PB = "application/x-protobuf"
JSON = "application/json"
LIMIT = 1024 * 1024


def test_a_body_over_the_limit_is_413() -> None:
    body = logs_request(50).SerializeToString()
    with pytest.raises(PayloadTooLarge) as err:
        decode_request("logs", body, PB, None, max_bytes=len(body) - 1)
    assert err.value.status == 413


def test_a_gzip_bomb_is_413_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="once decompressed"):
            decode_request("logs", bomb, PB, "gzip", max_bytes=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * LIMIT  # a few times the cap, never the 64 MiB


@pytest.mark.parametrize(
    ("body", "encoding", "reason"),
    [
        (b"not gzip at all", "gzip", "not valid gzip"),
        (gzip.compress(b"x" * 1000, mtime=0)[:-20], "gzip", "truncated"),
        (gzip.compress(b"ok", mtime=0) + b"trailing junk", "gzip", "not valid gzip"),
        (b"", "br", "unsupported content encoding"),
    ],
)
def test_bad_encodings_are_400(body: bytes, encoding: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        decode_request("logs", body, PB, encoding, max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("body", "ctype", "reason"),
    [
        (b"\xff\xff\xff\xff", PB, "not a valid OTLP protobuf"),
        (b"\x0a\x05\x0a\x03", PB, "not a valid OTLP protobuf"),  # truncated submessage
        (b"{", JSON, "not valid JSON"),
        (b"\xff\xfe", JSON, "not valid JSON"),
        (b"[1, 2]", JSON, "must be an object"),
        (b'{"resourceLogs": 5}', JSON, "not a valid OTLP request"),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
            JSON,
            "not a valid OTLP request",
        ),
        (b"[" * 100_000, JSON, "nested too deeply"),
    ],
)
def test_malformed_bodies_are_400(body: bytes, ctype: str | None, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason) as err:
        decode_request("logs", body, ctype, None, max_bytes=LIMIT)
    assert err.value.status == 400


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml; charset=utf-8", None])
def test_an_unsupported_content_type_is_415_as_otlp_http_requires(ctype: str | None) -> None:
    with pytest.raises(UnsupportedMediaType, match="unsupported content type") as err:
        decode_request("logs", b"{}", ctype, None, max_bytes=LIMIT)
    assert err.value.status == 415
    assert "application/x-protobuf or application/json" in err.value.message


def test_invalid_log_records_are_rejected_and_the_rest_kept() -> None:
    request = logs_request(4)
    records = request.resource_logs[0].scope_logs[0].log_records
    records[0].trace_id = b"\x01" * 5
    records[1].time_unix_nano = 2**64 - 1
    records[2].span_id = b"\x00" * 8  # all zero: absent, not invalid
    decoded = decode_request("logs", request.SerializeToString(), PB, None, max_bytes=LIMIT)
    assert (decoded.accepted, decoded.rejected) == (2, 2)
    assert decoded.table.column("span_id").to_pylist()[0] is None
    assert "rejected 2 log records" in decoded.message
    assert "trace_id that is not 16 bytes" in decoded.message
    assert "beyond the year 2262" in decoded.message


def test_invalid_spans_are_rejected_and_the_rest_kept() -> None:
    request = spans_request(5)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 15
    spans[1].end_time_unix_nano = spans[1].start_time_unix_nano - 1
    spans[2].trace_id = b""
    spans[3].links[0].span_id = b"\x02" * 3
    decoded = decode_request("traces", request.SerializeToString(), PB, None, max_bytes=LIMIT)
    assert (decoded.accepted, decoded.rejected) == (1, 4)
    assert "rejected 4 spans" in decoded.message
    assert "end before they start" in decoded.message


def test_invalid_metric_points_are_rejected_and_the_rest_kept() -> None:
    request = metrics_request()
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    metrics[0].gauge.data_points.add(time_unix_nano=1)  # no value
    metrics[2].histogram.data_points[0].bucket_counts.append(9)  # 4 counts for 2 bounds
    metrics[1].sum.data_points.add(as_double=1.0)  # no time
    metrics[4].summary.data_points.add(time_unix_nano=1, count=2**64 - 1)  # beyond int64
    nameless = request.resource_metrics[0].scope_metrics[0].metrics.add()
    nameless.gauge.data_points.add(time_unix_nano=1, as_double=1.0)
    decoded = decode_request("metrics", request.SerializeToString(), PB, None, max_bytes=LIMIT)
    assert (decoded.accepted, decoded.rejected) == (4, 5)  # the histogram point is one
    assert "without a value" in decoded.message
    assert "bucket_counts that do not fit explicit_bounds" in decoded.message
    assert "count beyond" in decoded.message


def test_a_json_id_that_is_not_hex_rejects_only_its_record() -> None:
    document = json.loads(logs_json())
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["traceId"] = "zz" * 16
    decoded = decode_request("logs", json.dumps(document).encode(), JSON, None, max_bytes=LIMIT)
    assert (decoded.accepted, decoded.rejected) == (1, 1)


def status_class() -> Any:
    """``google.rpc.Status`` built from its descriptor, to check the hand-written bytes."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="test_rpc_status.proto", package="test.rpc", syntax="proto3"
    )
    message = proto.message_type.add(name="Status")
    field = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="code", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    message.field.add(name="message", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("test.rpc.Status"))


@pytest.mark.parametrize(("code", "message"), [(3, "bad body: é"), (14, ""), (-1, "neg"), (0, "")])
def test_status_bodies_are_google_rpc_status(code: int, message: str) -> None:
    parsed = status_class().FromString(status_body(code, message, PB))
    assert (parsed.code, parsed.message) == (code, message)
    assert json.loads(status_body(code, message, JSON)) == {"code": code, "message": message}
    assert json.loads(status_body(code, message, "text/html"))["code"] == code


@pytest.mark.parametrize(
    ("signal", "response", "field"),
    [
        ("logs", ExportLogsServiceResponse, "rejected_log_records"),
        ("traces", ExportTraceServiceResponse, "rejected_spans"),
        ("metrics", ExportMetricsServiceResponse, "rejected_data_points"),
    ],
)
def test_responses_carry_partial_success_in_both_formats(
    signal: Any, response: Any, field: str
) -> None:
    reply = response.FromString(encode_response(signal, 2, "rejected 2", PB))
    assert getattr(reply.partial_success, field) == 2
    assert reply.partial_success.error_message == "rejected 2"
    body = json.loads(encode_response(signal, 2, "rejected 2", JSON))
    camel = "".join(w.title() if i else w for i, w in enumerate(field.split("_")))
    assert body == {"partialSuccess": {camel: "2", "errorMessage": "rejected 2"}}
    assert not response.FromString(encode_response(signal, 0, "", PB)).HasField("partial_success")
    assert encode_response(signal, 0, "", PB) == b""
    assert json.loads(encode_response(signal, 0, "", JSON)) == {}


def test_response_content_type_follows_the_request() -> None:
    assert response_content_type("application/x-protobuf") == PB
    assert response_content_type("application/json; charset=utf-8") == JSON
    assert response_content_type("text/plain") == JSON


VALID_PB = logs_request(3).SerializeToString()
VALID_JSON = logs_json()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    signal=st.sampled_from(["logs", "traces", "metrics"]),
    fmt=st.sampled_from([PB, JSON]),
    base=st.sampled_from([VALID_PB, VALID_JSON, spans_request(1).SerializeToString(), b""]),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    noise=st.binary(max_size=64),
    gz=st.booleans(),
)
def test_fuzzed_bodies_only_ever_give_400_or_413(
    signal: Any, fmt: str, base: bytes, flips: list[tuple[int, int]], noise: bytes, gz: bool
) -> None:
    body = bytearray(base + noise)
    for position, value in flips:
        if body:
            body[position % len(body)] = value
    data = gzip.compress(bytes(body)) if gz else bytes(body)
    try:
        decoded = decode_request(signal, data, fmt, "gzip" if gz else None, max_bytes=LIMIT)
    except (BadRequest, PayloadTooLarge):
        return
    # whatever survives is well-formed: the dataset's schema, and a reason for every rejection
    assert decoded.table.schema.equals(SCHEMAS[decoded.dataset])
    assert decoded.rejected >= 0
    if decoded.rejected:
        assert decoded.message.startswith(f"rejected {decoded.rejected} ")
    else:
        assert decoded.message == ""


def test_hex_id_fields_anywhere_are_converted() -> None:
    document = json.loads(logs_json())
    record = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["trace_id"] = record.pop("traceId")  # the proto field name is accepted too
    decoded = decode_request("logs", json.dumps(document).encode(), JSON, None, max_bytes=LIMIT)
    assert decoded.table.column("trace_id").to_pylist()[0] == TRACE.hex()
