"""Two-phase reads for the typed helpers: find *when* the matching rows are, then read them.

The views are :mod:`pyarrow.dataset` scans (:mod:`platform_sdk.observe.query`), and a pyarrow
scan decodes every column a query projects for every row of a row group *before* it applies
the filter. ``SELECT * … WHERE trace_id = ?`` therefore decodes bodies and attributes of the
whole store to keep twenty rows (measured: 10M log rows, ~5 s; the same filter projecting only
``timestamp`` decodes two columns). So the helpers read in two phases:

1. :func:`matching_span` projects only ``timestamp`` and the filtered columns to find the
   time range of the matching rows (of the ``newest`` newest of them, for a page of logs);
2. the caller then reads whole rows with the views rebuilt for that range only
   (``since=oldest, until=just_after(newest)``): the files of other hours are not opened and
   row groups outside the range are skipped by their ``timestamp`` statistics (rows are in
   time order in the files the writer and the compactor produce).

A row ingested between the two phases may show up in the second if it falls in the range and
matches; nothing that matched the first is missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from platform_sdk.observe.query import run_sql

__all__ = ["just_after", "matching_span"]


def just_after(moment: datetime) -> datetime:
    """The next representable instant (the views' ``until`` is exclusive; timestamps are µs)."""
    return moment + timedelta(microseconds=1)


def matching_span(
    relations: Mapping[str, ds.Dataset | pa.Table],
    dataset: str,
    condition: str,
    params: Mapping[str, Any],
    *,
    timeout: float,
    newest: int | None = None,
) -> tuple[datetime, datetime] | None:
    """``(oldest, newest)`` timestamp of the rows of ``dataset`` matching ``condition`` (of the
    ``newest`` newest of them when given); ``None`` when no row matches. ``condition`` is
    fixed SQL text whose values are the ``$name`` parameters in ``params``."""
    rows = f"SELECT timestamp FROM {dataset} WHERE {condition}"  # noqa: S608 - fixed fragments
    bound = dict(params)
    if newest is not None:
        rows += " ORDER BY timestamp DESC LIMIT $span_newest"
        bound["span_newest"] = newest
    query = f"SELECT min(timestamp) AS lo, max(timestamp) AS hi FROM ({rows})"  # noqa: S608
    found = run_sql(query, relations, max_rows=1, timeout=timeout, params=bound).table
    lo, hi = found.column("lo")[0].as_py(), found.column("hi")[0].as_py()
    if lo is None or hi is None:
        return None
    return lo, hi
