"""OTLP/JSON request bodies into the generated protobuf messages.

OTLP/JSON is the proto3 JSON mapping of the same messages with one deviation: trace and span
ids are **hex** strings, not the base64 that proto3 JSON (and so
``google.protobuf.json_format``) uses for ``bytes``. :func:`parse_json` therefore loads the
document, rewrites every id field (``traceId``, ``spanId``, ``parentSpanId`` and their
snake_case spellings, wherever they occur: spans, links, log records, exemplars) from hex to
base64, and hands the dict to ``json_format.ParseDict``. Everything else the mapping allows
is accepted as the specification asks: lowerCamelCase or original field names, enums as names
or integers, 64-bit integers as strings or numbers, and unknown fields ignored.

An id that is not valid hex becomes a one-byte id, which the row builders reject as a record
with an id of the wrong size, so one bad id costs its record, not the request. Any other
problem (not JSON, not an object, a value of the wrong type) raises
:class:`~platform_sdk.errors.BadRequest` for the whole request.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from platform_sdk.errors import BadRequest

__all__ = ["ID_FIELDS", "hex_ids_to_base64", "parse_json"]

ID_FIELDS: Final = frozenset(
    {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
)
_INVALID_ID: Final = base64.b64encode(b"\xff").decode("ascii")

M = TypeVar("M", bound=Message)


def _hex_to_base64(value: str) -> str:
    if not value:
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return _INVALID_ID
    return base64.b64encode(raw).decode("ascii")


def hex_ids_to_base64(document: Any) -> None:
    """Rewrite, in place, every hex id field of an OTLP/JSON document to base64."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    if key in ID_FIELDS:
                        node[key] = _hex_to_base64(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, dict | list))


def parse_json(data: bytes, message: M) -> M:
    """Fill ``message`` from the OTLP/JSON ``data``; BadRequest when it is not valid."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("the JSON body must be an object (an OTLP Export*ServiceRequest)")
    hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise BadRequest(f"the JSON body is not a valid OTLP request: {exc}") from None
    except (RecursionError, ValueError, TypeError, binascii.Error) as exc:
        # json_format lets a few malformed values through as plain Python errors.
        raise BadRequest(f"the JSON body is not a valid OTLP request: {exc}") from None
    return message
