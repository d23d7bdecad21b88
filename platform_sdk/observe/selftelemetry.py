"""The platform's own telemetry, recorded with opentelemetry-sdk into its own store.

Each platform has a :class:`~opentelemetry.sdk.trace.TracerProvider` (never the global one:
two platforms in one process keep apart) whose batch processor hands finished spans to
:class:`SpoolSpanExporter`: encoded as OTLP, decoded by the same code as ``/v1/traces`` and
appended to the local spool — in-process, no network loop, no authentication. A fresh install
therefore has data to look at: ``select name, count(*) from spans where service = 'platform'``.

What is traced:

* HTTP requests (:class:`TracingMiddleware`): ``GET /api/projects/{owner}/{name}/issues`` style
  names (the route template), status, duration; a ``traceparent`` header continues the
  caller's trace. Health checks and OTLP ingest itself are left out.
* git over smart HTTP: ``git upload-pack`` / ``git receive-pack`` / ``git info/refs`` spans
  with the project.
* pipeline runs and steps (:func:`record_step`, :func:`record_run`): the trace id of a run is
  its id (``pipelines.trace_id`` in SQL), the run span's id is derived from it, steps are its
  children — so ``spans`` join ``pipelines`` on ``trace_id``.

A span carrying the attribute ``platform.project`` is stored as that project's row (visible
to its ``observe:read`` holders); others belong to the platform (global readers only).
``PLATFORM_SELF_TELEMETRY=false`` turns it all off.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from platform_sdk.__about__ import __version__
from platform_sdk.core.runtime import Runtime
from platform_sdk.observe.otlp import decode_request

__all__ = [
    "SelfTelemetry",
    "SpoolSpanExporter",
    "record_run",
    "record_step",
    "run_span_id",
    "self_telemetry",
]

log = logging.getLogger(__name__)

SERVICE = "platform"


class SpoolSpanExporter(SpanExporter):
    """Finished spans → OTLP → rows → the local spool (dropped when another process owns it)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from platform_sdk.observe.telemetry import telemetry_of

        telemetry = telemetry_of(self.runtime)
        if not spans or not telemetry.owns_spool:
            return SpanExportResult.SUCCESS
        try:
            body = encode_spans(spans).SerializeToString()
            table = decode_request(
                "traces", body, "application/x-protobuf", None, max_bytes=len(body) + 1
            ).table
            telemetry.spool.append("spans", _project_from_attributes(table))
        except Exception:
            log.warning("self-telemetry: could not store %d spans", len(spans), exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _project_from_attributes(table: pa.Table) -> pa.Table:
    """Fill ``project`` from the span attribute ``platform.project`` where the resource had
    none (the platform's provider serves every project)."""
    if table.num_rows == 0:
        return table
    projects = table.column("project").to_pylist()
    attributes = table.column("attributes").to_pylist()
    filled = [
        p if p is not None else (json.loads(a or "{}").get("platform.project") if a else None)
        for p, a in zip(projects, attributes, strict=True)
    ]
    index = table.schema.get_field_index("project")
    return table.set_column(index, "project", pc.cast(pa.array(filled), pa.string()))


class _Ids(RandomIdGenerator):
    """Random ids, except ids forced for the next root span of this thread (run spans)."""

    def __init__(self) -> None:
        self.forced = threading.local()

    def _take(self, name: str) -> int | None:
        value = getattr(self.forced, name, None)
        setattr(self.forced, name, None)
        return None if value is None else int(value)

    def generate_span_id(self) -> int:
        forced = self._take("span_id")
        return forced if forced is not None else super().generate_span_id()

    def generate_trace_id(self) -> int:
        forced = self._take("trace_id")
        return forced if forced is not None else super().generate_trace_id()


def run_span_id(run_id: uuid.UUID) -> int:
    """The span id of a run's own span (its trace id is the run id)."""
    return int.from_bytes(run_id.bytes[8:16], "big") or 1


class SelfTelemetry:
    """The tracer provider of one runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self.enabled = runtime.settings.self_telemetry
        self._ids = _Ids()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE, "service.version": __version__}),
            id_generator=self._ids,
        )
        if self.enabled:
            from platform_sdk.observe.telemetry import telemetry_of

            telemetry_of(runtime)  # made first, so closed after the spans are flushed
            self.provider.add_span_processor(
                BatchSpanProcessor(SpoolSpanExporter(runtime), schedule_delay_millis=1000)
            )
        self.tracer = self.provider.get_tracer("platform_sdk", __version__)

    def force_ids(self, trace_id: int, span_id: int) -> None:
        """The next root span started in this thread gets these ids."""
        self._ids.forced.trace_id = trace_id
        self._ids.forced.span_id = span_id

    def flush(self) -> None:
        self.provider.force_flush()

    def close(self) -> None:
        self.provider.shutdown()


def self_telemetry(runtime: Runtime) -> SelfTelemetry:
    return runtime.extension("observe.self", SelfTelemetry)


def _ns(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000_000)


def _remote(trace_id: int, span_id: int) -> Any:
    ctx = trace.SpanContext(
        trace_id=trace_id,
        span_id=span_id,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(ctx))


def _finished_span(
    st: SelfTelemetry,
    name: str,
    context: Any,
    started: datetime,
    finished: datetime | None,
    attributes: dict[str, Any],
    error: str | None,
) -> None:
    """Record a span that already happened (its times come from the store)."""
    span = st.tracer.start_span(
        name,
        context=context,
        kind=SpanKind.INTERNAL,
        start_time=_ns(started),
        attributes=attributes,
    )
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=_ns(finished))


def record_step(
    runtime: Runtime,
    *,
    run_id: uuid.UUID,
    project: str,
    number: int,
    step: str,
    attempt: int,
    outcome: str,
    started: datetime | None,
    finished: datetime | None,
    error: str | None = None,
) -> None:
    """A span for one finished step attempt, child of its run's span."""
    st = self_telemetry(runtime)
    if not st.enabled or started is None:
        return
    _finished_span(
        st,
        f"pipeline step {step}",
        _remote(run_id.int, run_span_id(run_id)),
        started,
        finished,
        {
            "platform.project": project,
            "platform.pipeline.number": number,
            "platform.pipeline.step": step,
            "platform.pipeline.attempt": attempt,
            "platform.pipeline.outcome": outcome,
        },
        None if outcome == "success" else (error or outcome),
    )


def record_run(
    runtime: Runtime,
    *,
    run_id: uuid.UUID,
    project: str,
    number: int,
    ref: str,
    status: str,
    started: datetime | None,
    finished: datetime | None,
) -> None:
    """The span of a whole run: trace id = the run id, span id = :func:`run_span_id`."""
    st = self_telemetry(runtime)
    if not st.enabled or started is None:
        return
    st.force_ids(run_id.int, run_span_id(run_id))  # the root of the run's trace
    _finished_span(
        st,
        f"pipeline #{number}",
        trace.set_span_in_context(trace.INVALID_SPAN),
        started,
        finished,
        {
            "platform.project": project,
            "platform.pipeline.number": number,
            "platform.pipeline.ref": ref,
            "platform.pipeline.status": status,
        },
        None if status == "success" else status,
    )
