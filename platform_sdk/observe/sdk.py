"""``p.observe``: SQL and typed queries over telemetry as DataFrames, traces, tail, alerts.

>>> p.observe.sql("select level, count(*) from logs group by 1")        # pandas DataFrame
>>> p.observe.logs(project="alice/app", level="error", q="timeout")
>>> t = p.observe.trace("5b8efff798038103d269b633813fc60c"); t.plot()     # waterfall
>>> p.observe.metrics.query("http.requests", agg="rate", step=60).plot()
>>> p.observe.session_timeline("sess-1")
>>> for record in p.observe.tail(level="warn"): ...
>>> p.observe.alerts.create(...)

Every call goes through the services as the platform's actor, so it sees exactly the
projects that actor may ``observe:read``. ``arrow=True`` answers Arrow tables instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from platform_sdk.core.extras import missing_extra
from platform_sdk.observe.alert_sdk import AlertRuleManager
from platform_sdk.observe.services import explore, explore_metrics, explore_session
from platform_sdk.observe.services.query import sql as sql_service
from platform_sdk.observe.tail import tail as live_tail
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.observe.trace import TraceOut

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["Metrics", "Observe", "Trace"]


def _frame(table: pa.Table, arrow: bool) -> Any:
    return table if arrow else table.to_pandas()


class Trace:
    """A trace: ``spans`` (tree), ``logs``, ``waterfall()`` as a DataFrame, ``plot()``."""

    def __init__(self, data: TraceOut) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.data, name)

    def waterfall(self) -> Any:
        """One row per span in start order: name, service, offset_ms, duration_ms, depth."""
        import pandas as pd

        return pd.DataFrame(self.data.waterfall())

    def plot(self) -> Any:
        """The waterfall as a Gantt-like chart (hvPlot/Bokeh)."""
        try:
            import holoviews as hv
            import hvplot.pandas  # noqa: F401  (registers .hvplot)
        except ImportError as exc:
            raise missing_extra("workbench", "charts", exc) from None

        frame = self.waterfall()
        frame["label"] = [
            f"{'  ' * d}{n} ({s})"
            for d, n, s in zip(frame["depth"], frame["name"], frame["service"], strict=True)
        ]
        frame["end_ms"] = frame["offset_ms"] + frame["duration_ms"]
        frame["y"] = range(len(frame))
        segments = hv.Segments(
            frame, kdims=["offset_ms", "y", "end_ms", "y"], vdims=["label", "duration_ms"]
        )
        return segments.opts(
            line_width=12,
            color="black",
            tools=["hover"],
            invert_yaxis=True,
            yticks=list(zip(frame["y"], frame["label"], strict=True)),
            xlabel="ms since the trace started",
            ylabel="",
            height=max(200, 28 * len(frame) + 60),
            width=800,
            title=f"trace {self.data.trace_id}",
        )

    def _repr_html_(self) -> str:
        return str(self.waterfall().to_html(index=False))

    def __repr__(self) -> str:
        return f"<Trace {self.data.trace_id}: {self.data.span_count} spans>"


class Metrics:
    """``p.observe.metrics.query(name, …)``: a metric downsampled to time buckets."""

    def __init__(self, observe: Observe) -> None:
        self._observe = observe

    def query(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        step: int | None = None,
        agg: str = "avg",
        project: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: list[str] | None = None,
        arrow: bool = False,
    ) -> Any:
        table = self._observe._call(
            explore_metrics.query_metric,
            name=name,
            project=project,
            labels=labels,
            since=since,
            until=until,
            step_seconds=step,
            agg=agg,
            group_by=group_by or [],
        )
        return _frame(table, arrow)


class Observe:
    """Telemetry of the platform, as the platform's actor may see it."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.metrics = Metrics(self)
        self.alerts = AlertRuleManager(platform)

    def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        with self.platform.session() as db:
            return fn(db, actor=self.platform.actor, **kwargs)

    def sql(
        self,
        query: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        max_rows: int | None = None,
        arrow: bool = False,
    ) -> Any:
        """One read-only SELECT over ``logs``, ``spans``, ``metrics`` and platform tables."""
        result = self._call(sql_service, query=query, since=since, until=until, max_rows=max_rows)
        return _frame(result.table, arrow)

    def logs(
        self,
        *,
        project: str | None = None,
        session: str | None = None,
        trace: str | None = None,
        level: str | None = None,
        q: str | None = None,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        arrow: bool = False,
    ) -> Any:
        """Log records, newest first (the last hour unless ``since``/``until`` say)."""
        table = self._call(
            explore.search_logs,
            project=project,
            session=session,
            trace=trace,
            level=level,
            q=q,
            service=service,
            since=since,
            until=until,
            limit=limit,
        )
        return _frame(table, arrow)

    def trace(self, trace_id: str) -> Trace:
        return Trace(self._call(explore.get_trace, trace_id=trace_id))

    def session_timeline(self, session_id: str, *, arrow: bool = False) -> Any:
        """Everything an agent session did, in time order."""
        return _frame(self._call(explore_session.session_timeline, session_id=session_id), arrow)

    def tail(
        self, *, project: str | None = None, level: str | None = None, q: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Log records as they are ingested (blocks; stop by breaking out of the loop)."""
        return live_tail(
            self.platform, actor=self.platform.actor, project=project, level=level, q=q
        )

    def flush(self) -> dict[str, list[str]]:
        """Write this process's spooled telemetry to Parquet in the object store now."""
        return telemetry_of(self.platform.runtime).flush()

    def __repr__(self) -> str:
        return f"<Observe as {self.platform.actor.username}>"
