"""One trace as a span tree with waterfall data: the schema :func:`get_trace` returns.

:func:`build_trace` turns the ``spans`` rows of one trace (and its ``logs`` rows) into a
:class:`TraceOut`:

* **Tree.** Each span becomes a :class:`SpanNode` under its parent (``parent_span_id``);
  spans whose parent is not among the rows (not sent yet, of another project the actor cannot
  see, or the trace's real root) are roots. Children and roots are ordered by start time. A
  span id seen twice keeps its first row; a parent cycle (malformed data) is broken by making
  the first span of the cycle a root, so every span appears exactly once.
* **Waterfall.** ``offset_ms`` is the span's start minus the trace's start (the earliest span
  start), ``duration_ms`` its length, ``depth`` its level in the tree (roots are 0).
  :meth:`TraceOut.spans` lists the nodes depth first — the rows of a waterfall chart, top to
  bottom — and :meth:`TraceOut.waterfall` gives them as flat dicts for a DataFrame.
* **Logs.** The trace's log records in time order, with their offset from the trace start.

Attributes and events are parsed from their JSON text; text that is not JSON is kept as a
string under ``"_raw"``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field

__all__ = ["SpanNode", "TraceLog", "TraceOut", "build_trace"]


class SpanNode(BaseModel):
    """One span with its place in the waterfall and its children."""

    span_id: str
    parent_span_id: str | None = None
    name: str | None = None
    service: str | None = None
    project: str | None = None
    kind: str | None = None
    status: str | None = None
    status_message: str | None = None
    start: datetime
    end: datetime | None = None
    offset_ms: float
    duration_ms: float
    depth: int
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[Any] = Field(default_factory=list)
    children: list[SpanNode] = Field(default_factory=list)


class TraceLog(BaseModel):
    """A log record of the trace."""

    timestamp: datetime
    offset_ms: float
    service: str | None = None
    span_id: str | None = None
    severity: str | None = None
    severity_number: int | None = None
    body: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class TraceOut(BaseModel):
    """A trace: its span tree (``roots``), time span, services and logs."""

    trace_id: str
    start: datetime
    end: datetime
    duration_ms: float
    span_count: int
    services: list[str]
    roots: list[SpanNode]
    logs: list[TraceLog] = Field(default_factory=list)
    truncated: bool = False
    """True when the trace had more spans (or logs) than one read returns."""

    def spans(self) -> list[SpanNode]:
        """Every span, depth first in start order: the rows of a waterfall chart."""
        out: list[SpanNode] = []
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def waterfall(self) -> list[dict[str, Any]]:
        """The waterfall as flat rows (``pandas.DataFrame(trace.waterfall())``)."""
        keys = ("span_id", "parent_span_id", "name", "service", "kind", "status")
        return [
            {
                **{k: getattr(n, k) for k in keys},
                "depth": n.depth,
                "offset_ms": n.offset_ms,
                "duration_ms": n.duration_ms,
            }
            for n in self.spans()
        ]


def _json(text: Any, empty: Any) -> Any:
    if text is None or text == "":
        return empty
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {"_raw": str(text)} if isinstance(empty, dict) else [str(text)]
    return value if isinstance(value, type(empty)) else empty


def _ms(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() * 1000.0


def build_trace(
    trace_id: str, spans: pa.Table, logs: pa.Table | None = None, *, truncated: bool = False
) -> TraceOut:
    """The :class:`TraceOut` of ``spans`` (rows of one trace, at least one; see the module
    docstring)."""
    rows: dict[str, dict[str, Any]] = {}
    for row in spans.to_pylist():
        if row.get("span_id") and row["span_id"] not in rows:
            rows[row["span_id"]] = row
    if not rows:
        raise ValueError("a trace needs at least one span")
    start = min(r["start"] or r["timestamp"] for r in rows.values())
    nodes: dict[str, SpanNode] = {}
    for sid, r in rows.items():
        begin = r["start"] or r["timestamp"]
        duration = r["duration_ms"]
        if duration is None:
            duration = _ms(r["end"], begin) if r["end"] is not None else 0.0
        nodes[sid] = SpanNode(
            span_id=sid,
            parent_span_id=r["parent_span_id"],
            name=r["name"],
            service=r["service"],
            project=r["project"],
            kind=r["kind"],
            status=r["status_code"],
            status_message=r["status_message"],
            start=begin,
            end=r["end"],
            offset_ms=_ms(begin, start),
            duration_ms=float(duration),
            depth=0,
            attributes=_json(r["attributes"], {}),
            events=_json(r["events"], []),
        )
    ordered = sorted(nodes.values(), key=lambda n: (n.start, n.span_id))
    children: dict[str, list[SpanNode]] = {}
    roots: list[SpanNode] = []
    for node in ordered:
        parent = node.parent_span_id
        if parent and parent in nodes and parent != node.span_id:
            children.setdefault(parent, []).append(node)
        else:
            roots.append(node)
    placed: set[str] = set()

    def attach(top: SpanNode) -> None:  # iterative: deep traces must not hit the recursion limit
        stack = [(top, 0)]
        while stack:
            node, depth = stack.pop()
            placed.add(node.span_id)
            node.depth = depth
            kids = [c for c in children.get(node.span_id, []) if c.span_id not in placed]
            node.children = kids
            stack.extend((c, depth + 1) for c in reversed(kids))

    for root in roots:
        attach(root)
    for node in ordered:  # spans caught in a parent cycle: root the first one, then again
        if node.span_id not in placed:
            roots.append(node)
            attach(node)
    roots.sort(key=lambda n: (n.start, n.span_id))
    end = max((n.end or n.start) for n in nodes.values())
    trace_logs = [
        TraceLog(
            timestamp=r["timestamp"],
            offset_ms=_ms(r["timestamp"], start),
            service=r.get("service"),
            span_id=r.get("span_id"),
            severity=r.get("severity"),
            severity_number=r.get("severity_number"),
            body=r.get("body"),
            attributes=_json(r.get("attributes"), {}),
        )
        for r in (logs.to_pylist() if logs is not None else [])
    ]
    return TraceOut(
        trace_id=trace_id,
        start=start,
        end=end,
        duration_ms=_ms(end, start),
        span_count=len(nodes),
        services=sorted({n.service for n in nodes.values() if n.service}),
        roots=roots,
        logs=trace_logs,
        truncated=truncated,
    )
