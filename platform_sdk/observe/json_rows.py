"""Rows of an Arrow table as JSON values, for every type a query can return.

JSON has no NaN, no infinity, no dates and no 128-bit integers, and Python's ``datetime``
cannot hold DuckDB's ``infinity`` or years past 9999. The rules:

- non-finite doubles are the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``;
- dates, times and timestamps are ISO 8601 text (``2024-05-01``, ``12:30:00``,
  ``2024-05-01T12:30:00+00:00``); DuckDB's infinite ones are ``"infinity"``/``"-infinity"``, and
  those outside Python's range keep their real value (``294247-01-10T04:00:54.775807``);
- decimals and huge integers are decimal text (the query layer hands ``HUGEINT``, ``UHUGEINT``
  and ``BIGNUM`` over as text already, since Arrow's decimal128 cannot hold them);
- bytes are hex; UUIDs are text; intervals are ``[months, days, nanoseconds]``; lists, structs
  and maps keep their shape.

Columns go through ``to_pylist`` when Python can hold every value; a temporal column that it
cannot is rendered from its integers; anything else still refused is rendered by DuckDB as text.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.types as pt

__all__ = ["json_rows", "json_value"]

_INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _iso(value: int, unit: str) -> str:
    """ISO text of ``value`` ``unit``s since the epoch, any year numpy can hold."""
    return str(np.datetime64(value, unit))  # type: ignore[call-overload]


def json_value(value: Any) -> Any:
    """One Python value (from ``to_pylist``) as a JSON-encodable value."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, tuple) and type(value).__name__ == "MonthDayNano":
        return list(value)
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def _infinite(v: int, top: int) -> str | None:
    if v == top:
        return "infinity"
    if v in (-top, -top - 1):
        return "-infinity"
    return None


def _timestamps(column: pa.ChunkedArray[Any]) -> list[Any]:
    kind: Any = column.type
    ints = column.cast(pa.int64()).to_pylist()
    suffix = "+00:00" if kind.tz else ""
    out: list[Any] = []
    for v in ints:
        if v is None:
            out.append(None)
        elif (special := _infinite(v, _INT64_MAX)) is not None:
            out.append(special)
        else:
            out.append(_iso(v, kind.unit) + suffix)
    return out


def _dates(column: pa.ChunkedArray[Any]) -> list[Any]:
    unit, top, storage = (
        ("D", _INT32_MAX, pa.int32()) if pt.is_date32(column.type) else ("ms", _INT64_MAX, None)
    )
    chunks = [c.view(storage or pa.int64()) for c in column.chunks]
    out: list[Any] = []
    for v in pa.chunked_array(chunks, storage or pa.int64()).to_pylist():
        if v is None:
            out.append(None)
        elif (special := _infinite(v, top)) is not None:
            out.append(special)
        else:
            out.append(_iso(v, unit).split("T", 1)[0])
    return out


def _times(column: pa.ChunkedArray[Any]) -> list[Any]:
    kind: Any = column.type
    storage = pa.int32() if pt.is_time32(kind) else pa.int64()
    per_second = _UNITS[kind.unit]
    digits = {1: 0, 1_000: 3, 1_000_000: 6, 1_000_000_000: 9}[per_second]
    out: list[Any] = []
    chunks = pa.chunked_array([c.view(storage) for c in column.chunks], storage)
    for v in chunks.to_pylist():
        if v is None:
            out.append(None)
            continue
        seconds, fraction = divmod(v, per_second)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        text = f"{hour:02d}:{minute:02d}:{second:02d}"
        out.append(f"{text}.{fraction:0{digits}d}" if fraction else text)
    return out


def _as_text(column: pa.ChunkedArray[Any]) -> list[Any]:
    con = duckdb.connect(":memory:")
    try:
        con.register("c", pa.Table.from_arrays([column], names=["v"]))
        texts = con.sql("SELECT CAST(v AS VARCHAR) AS v FROM c").to_arrow_table().column(0)
        return list(texts.to_pylist())
    finally:
        con.close()


def _column(column: pa.ChunkedArray[Any]) -> list[Any]:
    kind = column.type
    if pt.is_time(kind):
        return _times(column)  # also 24:00:00, which Python's time cannot hold
    try:
        return [json_value(v) for v in column.to_pylist()]
    except (OverflowError, ValueError, pa.ArrowException):
        pass
    if pt.is_timestamp(kind):
        return _timestamps(column)
    if pt.is_date(kind):
        return _dates(column)
    return _as_text(column)


def json_rows(table: pa.Table) -> list[list[Any]]:
    """The rows of ``table``, each a list of JSON-encodable values in column order."""
    columns = [_column(table.column(i)) for i in range(table.num_columns)]
    if not columns:
        return [[] for _ in range(table.num_rows)]
    return [list(row) for row in zip(*columns, strict=True)]
