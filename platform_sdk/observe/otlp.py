"""OTLP/HTTP request bodies to Arrow rows, and the bodies the receiver answers with.

The OTLP routes (``POST /v1/logs``, ``/v1/traces``, ``/v1/metrics``) are thin over this module::

    decoded = decode_request("logs", body, content_type, content_encoding, max_bytes=limit)
    spool.append(decoded.dataset, decoded.table)          # durable before we answer
    return encode_response("logs", decoded.rejected, decoded.message, content_type)

and on a :class:`~platform_sdk.errors.PlatformError` answer its status with
:func:`status_body`. Nothing here touches storage, so a request that fails to decode stores
nothing.

Decoding, in order:

1. **Content type**: ``application/x-protobuf`` (or ``application/protobuf``) or
   ``application/json``, parameters ignored; anything else is BadRequest.
2. **Size and encoding**: a body over ``max_bytes`` is PayloadTooLarge (413). ``gzip`` bodies
   (``Content-Encoding: gzip``; ``identity`` or none means plain) are inflated by
   :func:`gunzip` with a hard cap of ``max_bytes`` on the *output*: inflation stops as soon
   as the cap is passed, so a gzip bomb costs at most ``max_bytes`` of memory and answers 413.
   A corrupt or truncated gzip stream is BadRequest.
3. **Parse** into the signal's ``Export*ServiceRequest``: protobuf with the generated classes
   (``opentelemetry-proto``), JSON with :func:`platform_sdk.observe.otlp_json.parse_json`
   (hex ids). A body that does not parse is BadRequest, with the parser's reason.
4. **Rows**: :mod:`.otlp_rows` and :mod:`.otlp_metrics` build the Arrow table, leaving out the
   records that are individually invalid; :class:`Decoded` carries their count and a message,
   which :func:`encode_response` returns as OTLP ``partial_success``.

**Status bodies** (``google.rpc.Status``): ``opentelemetry-proto`` does not ship
``google/rpc/status.proto`` and ``googleapis-common-protos`` is not a dependency, so
:func:`status_body` writes the message by hand. It is three fields (``int32 code = 1; string
message = 2; repeated google.protobuf.Any details = 3``) and the receiver never sends details,
so the protobuf encoding is two tagged fields: a varint and a length-delimited UTF-8 string.
The tests check the bytes against a ``Status`` class built at run time from its descriptor.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import pyarrow as pa
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from platform_sdk.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from platform_sdk.observe.otlp_json import parse_json
from platform_sdk.observe.otlp_metrics import metric_rows
from platform_sdk.observe.otlp_rows import Rejects, log_rows, span_rows
from platform_sdk.observe.schema import DATASET_OF, Dataset, Signal

__all__ = [
    "GRPC_CODE_FOR_STATUS",
    "Decoded",
    "Format",
    "decode_request",
    "encode_response",
    "gunzip",
    "request_format",
    "response_content_type",
    "status_body",
]

Format = Literal["protobuf", "json"]

_MEDIA_TYPES: Final[dict[str, Format]] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_CONTENT_TYPE: Final[dict[Format, str]] = {
    "protobuf": "application/x-protobuf",
    "json": "application/json",
}
_REQUESTS: Final[dict[Signal, type[Message]]] = {
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
_RESPONSES: Final[dict[Signal, type[Message]]] = {
    "logs": logs_service_pb2.ExportLogsServiceResponse,
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
}
_ROWS: Final[dict[Signal, Callable[[Any, int], tuple[pa.Table, Rejects]]]] = {
    "logs": log_rows,
    "traces": span_rows,
    "metrics": metric_rows,
}
_WHAT: Final[dict[Signal, str]] = {
    "logs": "log records",
    "traces": "spans",
    "metrics": "data points",
}
_REJECTED_FIELD: Final[dict[Signal, str]] = {
    "logs": "rejected_log_records",
    "traces": "rejected_spans",
    "metrics": "rejected_data_points",
}

GRPC_CODE_FOR_STATUS: Final[dict[int, int]] = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,  # INVALID_ARGUMENT
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    503: 14,  # UNAVAILABLE
}
"""The ``google.rpc.Code`` a route puts in :func:`status_body` for an HTTP status."""


@dataclass(frozen=True)
class Decoded:
    """The rows of one OTLP request and what was left out of it.

    ``table`` has the schema of ``dataset`` (:data:`platform_sdk.observe.schema.SCHEMAS`).
    ``rejected`` counts the records left out; ``message`` says why (empty when none).
    """

    signal: Signal
    table: pa.Table
    rejected: int = 0
    message: str = ""

    @property
    def dataset(self) -> Dataset:
        """Where the rows are stored: ``logs``, ``spans`` or ``metrics``."""
        return DATASET_OF[self.signal]

    @property
    def accepted(self) -> int:
        return self.table.num_rows


def request_format(content_type: str | None) -> Format:
    """``protobuf`` or ``json`` for a ``Content-Type`` header; UnsupportedMediaType (415, as the
    OTLP/HTTP specification requires) otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = _MEDIA_TYPES.get(media)
    if found is None:
        raise UnsupportedMediaType(
            f"unsupported content type {content_type!r}: "
            "OTLP/HTTP takes application/x-protobuf or application/json"
        )
    return found


def _too_large(max_bytes: int, after: str = "") -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {max_bytes} bytes{after}",
        details={"max_bytes": max_bytes},
    )


def gunzip(body: bytes, *, max_bytes: int) -> bytes:
    """Inflate a gzip ``body`` (several members allowed), never past ``max_bytes`` of output.

    PayloadTooLarge as soon as the output passes ``max_bytes``; BadRequest for a stream that
    is corrupt, truncated or followed by anything but another gzip member.
    """
    out = bytearray()
    data = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while not inflater.eof:
                chunk = inflater.decompress(data, max_bytes + 1 - len(out))
                data = inflater.unconsumed_tail
                if chunk:
                    out += chunk
                    if len(out) > max_bytes:
                        raise _too_large(max_bytes, " once decompressed")
                elif not data:
                    raise BadRequest("the gzip body is truncated")
            data = inflater.unused_data
            if not data:
                return bytes(out)
    except zlib.error as exc:
        raise BadRequest(f"the body is not valid gzip: {exc}") from None


def _body(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    if len(body) > max_bytes:
        raise _too_large(max_bytes)
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return gunzip(body, max_bytes=max_bytes)
    if encoding == "identity":
        return body
    raise BadRequest(f"unsupported content encoding {content_encoding!r}: use gzip or none")


def decode_request(
    signal: Signal,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    max_bytes: int,
    now_ns: int | None = None,
) -> Decoded:
    """Decode one OTLP/HTTP request body into rows (see the module docstring).

    ``now_ns`` is the ingest time given to log records that carry no time (default: now).
    Raises BadRequest (malformed body, unsupported type or encoding) or PayloadTooLarge.
    """
    try:
        request_type = _REQUESTS[signal]
    except KeyError:
        raise ValueError(f"unknown OTLP signal {signal!r}") from None
    fmt = request_format(content_type)
    data = _body(body, content_encoding, max_bytes)
    message = request_type()
    if fmt == "protobuf":
        try:
            message.ParseFromString(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise BadRequest(f"the body is not a valid OTLP protobuf request: {exc}") from None
    else:
        parse_json(data, message)
    table, rejects = _ROWS[signal](message, time.time_ns() if now_ns is None else now_ns)
    return Decoded(signal, table, rejects.total, rejects.message(_WHAT[signal]))


def encode_response(signal: Signal, rejected: int, message: str, content_type: str | None) -> bytes:
    """The ``Export*ServiceResponse`` body, in the request's format.

    ``partial_success`` is set when ``rejected`` > 0 or there is a ``message`` (a warning);
    otherwise the response is empty, as the specification asks.
    """
    try:
        reply = _RESPONSES[signal]()
    except KeyError:
        raise ValueError(f"unknown OTLP signal {signal!r}") from None
    if rejected > 0 or message:
        partial: Any = getattr(reply, "partial_success")  # noqa: B009 (one field, three types)
        setattr(partial, _REJECTED_FIELD[signal], max(rejected, 0))
        partial.error_message = message
    if _format_or_json(content_type) == "protobuf":
        return bytes(reply.SerializeToString())
    return json.dumps(json_format.MessageToDict(reply), separators=(",", ":")).encode()


def _format_or_json(content_type: str | None) -> Format:
    try:
        return request_format(content_type)
    except BadRequest:
        return "json"  # answer an unsupported type in JSON: a client can read that


def response_content_type(content_type: str | None) -> str:
    """The ``Content-Type`` of answers to a request of ``content_type``."""
    return _CONTENT_TYPE[_format_or_json(content_type)]


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 values are sign-extended to ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_body(code: int, message: str, content_type: str | None) -> bytes:
    """A ``google.rpc.Status`` body (``code``, ``message``) in the request's format.

    ``code`` is a ``google.rpc.Code`` (see :data:`GRPC_CODE_FOR_STATUS`). Protobuf is written
    by hand (see the module docstring); JSON is ``{"code": …, "message": …}``. An unsupported
    request type gets JSON.
    """
    if _format_or_json(content_type) == "json":
        return json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
    out = bytearray()
    if code:
        out += b"\x08" + _varint(code)  # field 1, wire type 0 (varint)
    if message:
        text = message.encode("utf-8", "replace")
        out += b"\x12" + _varint(len(text)) + text  # field 2, wire type 2 (length-delimited)
    return bytes(out)
