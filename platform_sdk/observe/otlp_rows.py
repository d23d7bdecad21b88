"""OTLP messages to Arrow rows: the envelope, attribute values, and the logs and spans builders.

:mod:`platform_sdk.observe.otlp` parses a request into the generated protobuf message; the
builders here walk it once and fill one Python list per column of the dataset's schema
(:mod:`platform_sdk.observe.schema`), then make the Arrow table in one call, which is several
times faster than building a dict per row. Metrics live in :mod:`.otlp_metrics`.

Speed: the log loop is the hot path of ingest, so it binds the list appends once, inlines
the checks for the common valid record, fills the columns a resource and scope share in
bulk (:func:`extend_constant`) and encodes JSON with a prebuilt C encoder. What is left is
mostly attribute access on the protobuf records (about 5 µs a record; parsing itself is
30 times faster). ``benchmarks/otlp_ingest.py`` measures it.

**Records are checked one by one.** A record that cannot become a row (a trace id that is not
16 bytes, a span id that is not 8, a time beyond the signed 64-bit nanosecond range that
every consumer of the data can represent — year 2262 —, a span without start or with an end
before its start) is left out and counted in :class:`Rejects` under a reason; the other
records of the request are kept. The route reports the count and the reasons as OTLP partial
success.

Attribute values (OTLP ``AnyValue``) become JSON values: strings, booleans, ints and doubles as
themselves, arrays as lists, key/value lists as objects, bytes as base64 text and non-finite
doubles as ``"NaN"``/``"Infinity"``/``"-Infinity"``, as OTLP/JSON writes them. A repeated key
keeps its last value.
"""

from __future__ import annotations

import base64
import json
import json.encoder
import math
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from platform_sdk.observe.schema import LOGS, SPANS

__all__ = [
    "MAX_TIME_NS",
    "Envelope",
    "InvalidRecord",
    "Rejects",
    "any_value",
    "attributes",
    "envelope",
    "extend_constant",
    "hex_id",
    "log_rows",
    "span_rows",
    "to_json",
]

MAX_TIME_NS: Final = 2**63 - 1
"""The latest valid time: signed 64-bit nanoseconds since the epoch (2262-04-11)."""

_SEVERITY_RANGES: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_SPAN_KINDS: Final = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS_CODES: Final = {0: "unset", 1: "ok", 2: "error"}
_NONFINITE: Final = {math.inf: "Infinity", -math.inf: "-Infinity"}
_ZERO_TRACE: Final = bytes(16)
_ZERO_SPAN: Final = bytes(8)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _make_dumps() -> Callable[[Any], str]:
    """Compact, UTF-8, NaN-free JSON text; through ``_json``'s C encoder when it exists.

    ``json.dumps`` builds its encoder on every call, which costs as much as encoding a small
    attribute dict; building it once halves the time. No cycle check: values come from
    protobuf messages and cannot refer to themselves.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:  # not CPython: the pure-Python encoder
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    encode = make(None, _no_default, quote, None, ":", ",", False, False, False)

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


_dumps = _make_dumps()


class InvalidRecord(ValueError):
    """A record that cannot become a row; its message is the reason counted in Rejects."""


class Rejects:
    """Records left out of a request, counted by reason."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()

    def add(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] += count

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def message(self, what: str) -> str:
        """A human summary (``"rejected 2 log records: 2 with …"``); empty when none."""
        if not self.reasons:
            return ""
        parts = [f"{n} {reason}" for reason, n in self.reasons.most_common(5)]
        if len(self.reasons) > 5:
            parts.append("…")
        return f"rejected {self.total} {what}: " + "; ".join(parts)


def to_json(value: Any) -> str:
    """Compact JSON text of ``value`` (UTF-8, not ASCII-escaped)."""
    return _dumps(value)


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a JSON-ready Python value (``None`` when empty)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        number = value.double_value
        if math.isfinite(number):
            return number
        return "NaN" if math.isnan(number) else _NONFINITE[number]
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """Key/value pairs as a dict (a repeated key keeps its last value)."""
    out: dict[str, Any] = {}
    for kv in pairs:
        value = kv.value
        kind = value.WhichOneof("value")  # inline the common scalar cases: the hot path
        if kind == "string_value":
            out[kv.key] = value.string_value
        elif kind == "int_value":
            out[kv.key] = value.int_value
        elif kind == "bool_value":
            out[kv.key] = value.bool_value
        else:
            out[kv.key] = any_value(value)
    return out


def hex_id(raw: bytes, size: int, what: str) -> str | None:
    """``raw`` as lowercase hex; ``None`` when empty or all zero; InvalidRecord if not ``size``."""
    if not raw:
        return None
    if len(raw) != size:
        raise InvalidRecord(f"with a {what} that is not {size} bytes ({size * 2} hex characters)")
    if not raw.strip(b"\0"):
        return None
    return raw.hex()


def check_time(ns: int, what: str) -> int:
    """``ns`` converted to microseconds, or InvalidRecord beyond :data:`MAX_TIME_NS`."""
    if ns > MAX_TIME_NS:
        raise InvalidRecord(f"with a {what} beyond the year 2262")
    return ns // 1000


def iso_time(ns: int) -> str:
    """Nanoseconds since the epoch as ISO-8601 UTC text with microseconds (``…Z``)."""
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Envelope:
    """The correlation columns a resource gives all its records, and its JSON."""

    __slots__ = ("project", "resource", "service", "session_id", "user_id")

    def __init__(self, attrs: dict[str, Any]) -> None:
        def text(*keys: str) -> str | None:
            for key in keys:
                value = attrs.get(key)
                if value is not None and value != "":
                    return value if isinstance(value, str) else to_json(value)
            return None

        self.service = text("service.name")
        self.project = text("platform.project")
        self.session_id = text("platform.session", "session.id")
        self.user_id = text("platform.user", "enduser.id")
        self.resource = to_json(attrs)


def envelope(resource: Resource) -> Envelope:
    """The envelope of one ``Resource``."""
    return Envelope(attributes(resource.attributes))


def _columns(schema: pa.Schema) -> dict[str, list[Any]]:
    return {name: [] for name in schema.names}


def _severity(number: int) -> str | None:
    if 1 <= number <= 24:
        return _SEVERITY_RANGES[(number - 1) // 4]
    return None


def extend_constant(cols: dict[str, list[Any]], env: Envelope, scope: Any, count: int) -> None:
    """Add ``count`` rows' worth of the columns that one resource and scope share."""
    for name, value in (
        ("service", env.service),
        ("project", env.project),
        ("session_id", env.session_id),
        ("user_id", env.user_id),
        ("resource", env.resource),
        ("scope", scope.name or None),
        ("scope_version", scope.version or None),
    ):
        cols[name].extend([value] * count)


def _log_problem(ts: int, observed: int, trace_id: bytes, span_id: bytes) -> str:
    """Why a log record is rejected (the checks of log_rows, spelled out)."""
    try:
        check_time(ts, "timestamp")
        check_time(observed, "observed time")
        hex_id(trace_id, 16, "trace_id")
        hex_id(span_id, 8, "span_id")
    except InvalidRecord as exc:
        return str(exc)
    raise AssertionError("a valid log record was rejected")  # pragma: no cover


def log_rows(request: ExportLogsServiceRequest, now_ns: int) -> tuple[pa.Table, Rejects]:
    """The rows of the ``logs`` dataset in ``request``, and what was rejected."""
    cols = _columns(LOGS)
    rejects = Rejects()
    # Bound methods of the per-record columns: this loop is the hot path of log ingest.
    timestamps, observed_col = cols["timestamp"].append, cols["observed_timestamp"].append
    trace_ids, span_ids = cols["trace_id"].append, cols["span_id"].append
    severities, numbers = cols["severity"].append, cols["severity_number"].append
    bodies, attrs = cols["body"].append, cols["attributes"].append
    event_names, flags = cols["event_name"].append, cols["flags"].append
    for resource_logs in request.resource_logs:
        env = envelope(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            before = len(cols["timestamp"])
            for record in scope_logs.log_records:
                # The checks of check_time and hex_id, inlined for the common valid record.
                observed = record.observed_time_unix_nano
                ts = record.time_unix_nano or observed or now_ns
                tid, sid = record.trace_id, record.span_id
                if (
                    ts > MAX_TIME_NS
                    or observed > MAX_TIME_NS
                    or len(tid) not in (0, 16)
                    or len(sid) not in (0, 8)
                ):
                    rejects.add(_log_problem(ts, observed, tid, sid))
                    continue
                if record.HasField("body"):
                    body = any_value(record.body)
                    if body is not None and not isinstance(body, str):
                        body = _dumps(body)
                else:
                    body = None
                number = record.severity_number
                timestamps(ts // 1000)
                observed_col(observed // 1000 if observed else None)
                trace_ids(tid.hex() if tid and tid != _ZERO_TRACE else None)
                span_ids(sid.hex() if sid and sid != _ZERO_SPAN else None)
                severities(record.severity_text or _severity(number))
                numbers(number or None)
                bodies(body)
                attrs(_dumps(attributes(record.attributes)) if record.attributes else "{}")
                event_names(record.event_name or None)
                flags(record.flags)
            extend_constant(cols, env, scope_logs.scope, len(cols["timestamp"]) - before)
    return pa.Table.from_pydict(cols, schema=LOGS), rejects


def _span_times(span: Any) -> tuple[int, int]:
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if not start:
        raise InvalidRecord("without a start time")
    if not end:
        raise InvalidRecord("without an end time")
    if end < start:
        raise InvalidRecord("that end before they start")
    check_time(end, "end time")
    return start, end


def _events(span: Any) -> str:
    return to_json(
        [
            {
                "time": iso_time(event.time_unix_nano),
                "name": event.name,
                "attributes": attributes(event.attributes),
            }
            for event in span.events
        ]
    )


def _links(span: Any) -> str:
    links = []
    for link in span.links:
        links.append(
            {
                "trace_id": hex_id(link.trace_id, 16, "link trace_id"),
                "span_id": hex_id(link.span_id, 8, "link span_id"),
                "trace_state": link.trace_state,
                "attributes": attributes(link.attributes),
            }
        )
    return to_json(links)


def span_rows(request: ExportTraceServiceRequest, now_ns: int) -> tuple[pa.Table, Rejects]:
    """The rows of the ``spans`` dataset in ``request``, and what was rejected."""
    del now_ns  # spans carry their own times
    cols = _columns(SPANS)
    rejects = Rejects()
    for resource_spans in request.resource_spans:
        env = envelope(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            before = len(cols["timestamp"])
            for span in scope_spans.spans:
                try:
                    trace_id = hex_id(span.trace_id, 16, "trace_id")
                    span_id = hex_id(span.span_id, 8, "span_id")
                    if trace_id is None or span_id is None:
                        raise InvalidRecord("without a trace_id or span_id")
                    parent = hex_id(span.parent_span_id, 8, "parent_span_id")
                    start, end = _span_times(span)
                    events = _events(span) if span.events else "[]"
                    links = _links(span) if span.links else "[]"
                except InvalidRecord as exc:
                    rejects.add(str(exc))
                    continue
                cols["timestamp"].append(start // 1000)
                cols["trace_id"].append(trace_id)
                cols["span_id"].append(span_id)
                cols["parent_span_id"].append(parent)
                cols["name"].append(span.name)
                cols["kind"].append(_SPAN_KINDS.get(span.kind, "unspecified"))
                cols["start"].append(start // 1000)
                cols["end"].append(end // 1000)
                cols["duration_ms"].append((end - start) / 1e6)
                cols["status_code"].append(_STATUS_CODES.get(span.status.code, "unset"))
                cols["status_message"].append(span.status.message or None)
                cols["trace_state"].append(span.trace_state or None)
                cols["attributes"].append(to_json(attributes(span.attributes)))
                cols["events"].append(events)
                cols["links"].append(links)
            extend_constant(cols, env, scope_spans.scope, len(cols["timestamp"]) - before)
    return pa.Table.from_pydict(cols, schema=SPANS), rejects
