"""Observe: log search with live tail, a trace waterfall, metric charts, an SQL box, alerts.

Everything goes through ``p.observe`` as the acting user, so only projects it may
``observe:read`` appear. **Logs** are paged by key, as the service pages them: a page is the
newest ``page_size`` records before the cursor, and "Older" moves the cursor to the oldest
timestamp shown (the service returns every record sharing that timestamp on the page, so
``until=<that timestamp>`` — the window is ``[since, until)`` — continues without a gap or a
repeat). One page is one bounded DuckDB query however many rows the telemetry holds.
**Live tail** is a periodic callback that asks for records newer than the newest shown and
puts them on top. The **SQL** result is bounded by the service's row limit and shown with
Tabulator's remote pagination (the browser receives one page), plus a chart of the first
numeric column against the first column.
"""

# mypy: disable-error-code="no-untyped-call"
# (Panel's widget constructors are untyped; everything else here is checked strictly.)

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import panel as pn
import param

from platform_sdk.dashboards.base import Dashboard, PagedTable, action, loading

__all__ = ["ObserveDashboard"]

LOG_COLUMNS = ["timestamp", "severity", "service", "project", "session_id", "trace_id", "body"]
RANGES = {"15 minutes": 0.25, "1 hour": 1, "6 hours": 6, "24 hours": 24, "7 days": 168}


class ObserveDashboard(Dashboard):
    """Telemetry the acting user may read."""

    title = "Observe"

    project = param.String(default="", doc="owner/name; empty for every visible project")
    session = param.String(default="")
    level: Any = param.Selector(default="", objects=["", "debug", "info", "warn", "error", "fatal"])
    text = param.String(default="", doc="case-insensitive substring of the body")
    time_range: Any = param.Selector(default="1 hour", objects=list(RANGES))
    page_size = param.Integer(default=100, bounds=(1, 10_000))
    live = param.Boolean(default=False, doc="live tail: poll for newer records")
    trace_id = param.String(default="")
    metric = param.String(default="")
    metric_labels = param.String(default="", doc="k=v,k2=v2")
    metric_step = param.Integer(default=None, allow_None=True, bounds=(1, None))
    metric_agg: Any = param.Selector(
        default="avg", objects=["avg", "sum", "min", "max", "count", "rate"]
    )
    sql = param.String(
        default="select severity, count(*) as n from logs group by 1 order by 2 desc"
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.cursors: list[datetime | None] = [None]  # `until` of each page shown so far
        self.logs = pn.widgets.Tabulator(
            pd.DataFrame(columns=LOG_COLUMNS),
            disabled=True,
            show_index=False,
            pagination=None,
            sizing_mode="stretch_width",
            height=420,
        )
        self._logs_empty = pn.pane.Markdown("", visible=False, css_classes=["empty-state"])
        self._older = pn.widgets.Button(label="Older ▶", width=110)
        self._newer = pn.widgets.Button(label="◀ Newer", width=110, disabled=True)
        self._older.on_click(action(self.older))
        self._newer.on_click(action(self.newer))
        self._trace = pn.Column(pn.pane.Markdown("Enter a trace id to see its waterfall."))
        self._metric = pn.Column(pn.pane.Markdown("Name a metric to chart it."))
        self._sql_table = pn.widgets.Tabulator(
            pd.DataFrame(),
            pagination="remote",
            page_size=50,
            disabled=True,
            show_index=False,
            sizing_mode="stretch_width",
        )
        self._sql_chart = pn.Column()
        self.alert_rules = PagedTable(
            lambda: self.platform.observe.alerts.list(project=self.project or None),
            [
                "name",
                "project",
                "kind",
                "metric",
                "comparator",
                "threshold",
                "severity",
                "enabled",
                "state",
            ],
            empty="No alert rules. Create one: `p.observe.alerts.create('name', project=…, "
            "metric=…, comparator='>', threshold=…)`.",
            name="alert-rules",
            height=220,
        )
        self.alert_events = PagedTable(
            lambda: self.platform.observe.alerts.events.list(project=self.project or None),
            ["rule", "project", "severity", "state", "value", "fired_at", "resolved_at"],
            empty="No alert events: nothing has fired.",
            name="alert-events",
            height=220,
        )
        self._poll: Any = None
        self.search()
        self.alert_rules.reload()
        self.alert_events.reload()

    # -- logs -----------------------------------------------------------------------------
    def query_logs(self, until: datetime | None = None, since: datetime | None = None) -> Any:
        hi = until or datetime.now(UTC) + timedelta(minutes=1)
        lo = since or datetime.now(UTC) - timedelta(hours=RANGES[self.time_range])
        return self.platform.observe.logs(
            project=self.project or None,
            session=self.session or None,
            level=self.level or None,
            q=self.text or None,
            since=lo,
            until=hi,
            limit=self.page_size,
        )

    @param.depends("project", "session", "level", "text", "time_range", watch=True)
    def search(self) -> pd.DataFrame:
        """Page 1 of the log search for the current filters (also shown in the table)."""
        self.cursors = [None]
        return self._show_page()

    def older(self) -> pd.DataFrame:
        shown = self.logs.value
        if len(shown):
            self.cursors.append(pd.Timestamp(shown["timestamp"].min()).to_pydatetime())
        return self._show_page()

    def newer(self) -> pd.DataFrame:
        if len(self.cursors) > 1:
            self.cursors.pop()
        return self._show_page()

    def _show_page(self) -> pd.DataFrame:
        with loading(self.logs):
            found = self.guard(lambda: self.query_logs(until=self.cursors[-1]))
        data = _log_frame(found)
        self.logs.value = data
        self._older.disabled = len(data) < self.page_size
        self._newer.disabled = len(self.cursors) <= 1
        self._logs_empty.visible = data.empty
        self._logs_empty.object = (
            "**No log records match.** Widen the time range, clear a filter, or send logs "
            "with OTLP to `/v1/logs`."
        )
        return data

    def tail_once(self) -> int:
        """Live tail step: put records newer than the newest shown on top; answers how many."""
        if len(self.cursors) > 1:
            return 0  # only the first page follows the tail
        shown = self.logs.value
        newest = pd.Timestamp(shown["timestamp"].max()).to_pydatetime() if len(shown) else None
        found = self.guard(lambda: self.query_logs(since=newest))
        fresh = _log_frame(found)
        if newest is not None and len(fresh):
            fresh = fresh[pd.to_datetime(fresh["timestamp"], utc=True) > pd.Timestamp(newest)]
        if len(fresh):
            self.logs.value = pd.concat([fresh, shown]).head(self.page_size * 5)
            self._logs_empty.visible = False
        return len(fresh)

    @param.depends("live", watch=True)
    def _live_changed(self) -> None:
        if self._poll is not None:
            self._poll.running = self.live

    # -- trace, metrics, sql --------------------------------------------------------------
    def show_trace(self) -> Any:
        if not self.trace_id.strip():
            return None
        with loading(self._trace):
            trace = self.guard(lambda: self.platform.observe.trace(self.trace_id.strip()))
            self._trace.clear()
            if trace is None:
                self._trace.append(pn.pane.Markdown(f"No trace `{self.trace_id}` visible to you."))
                return None
            self._trace.append(pn.pane.HoloViews(trace.plot(), sizing_mode="stretch_width"))
            self._trace.append(pn.widgets.Tabulator(trace.waterfall(), disabled=True, height=240))
        return trace

    def query_metric(self) -> pd.DataFrame | None:
        if not self.metric.strip():
            return None
        labels = dict(part.split("=", 1) for part in self.metric_labels.split(",") if "=" in part)
        with loading(self._metric):
            data = self.guard(
                lambda: self.platform.observe.metrics.query(
                    self.metric.strip(),
                    labels={k.strip(): v.strip() for k, v in labels.items()} or None,
                    step=self.metric_step,
                    agg=self.metric_agg,
                    project=self.project or None,
                    since=datetime.now(UTC) - timedelta(hours=RANGES[self.time_range]),
                )
            )
            self._metric.clear()
            if data is None or data.empty:
                self._metric.append(pn.pane.Markdown("No points for that metric in the range."))
                return None if data is None else pd.DataFrame(data)
            import hvplot.pandas  # noqa: F401

            self._metric.append(
                pn.pane.HoloViews(
                    data.hvplot.line(x="time", y="value", title=self.metric, height=300),
                    sizing_mode="stretch_width",
                )
            )
        return pd.DataFrame(data)

    def run_sql(self) -> pd.DataFrame | None:
        with loading(self._sql_table):
            data = self.guard(lambda: self.platform.observe.sql(self.sql))
        self._sql_chart.clear()
        if data is None:
            return None
        self._sql_table.value = data
        chart = _chart(data)
        if chart is not None:
            self._sql_chart.append(pn.pane.HoloViews(chart, sizing_mode="stretch_width"))
        return data  # type: ignore[no-any-return]

    # -- view -----------------------------------------------------------------------------
    def layout(self) -> pn.viewable.Viewable:
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(
                action(self.tail_once), period=2000, start=self.live
            )
        p = self.param
        filters = pn.Row(
            pn.widgets.TextInput.from_param(p.project, label="Project", placeholder="all"),
            pn.widgets.TextInput.from_param(p.session, label="Session", placeholder="any"),
            pn.widgets.Select.from_param(p.level, label="Min level"),
            pn.widgets.TextInput.from_param(p.text, label="Text", placeholder="search body"),
            pn.widgets.Select.from_param(p.time_range, label="Range"),
            pn.widgets.Toggle.from_param(p.live, label="Live tail", align="end"),
        )
        logs = pn.Column(
            filters, self._logs_empty, self.logs, pn.Row(self._newer, self._older), name="Logs"
        )
        go_trace = pn.widgets.Button(label="Show trace", align="end")
        go_trace.on_click(action(self.show_trace))
        trace = pn.Column(
            pn.Row(pn.widgets.TextInput.from_param(p.trace_id, label="Trace id"), go_trace),
            self._trace,
            name="Trace",
        )
        go_metric = pn.widgets.Button(label="Chart", align="end")
        go_metric.on_click(action(self.query_metric))
        metrics = pn.Column(
            pn.Row(
                pn.widgets.TextInput.from_param(p.metric, label="Metric"),
                pn.widgets.TextInput.from_param(p.metric_labels, label="Labels (k=v,…)"),
                pn.widgets.IntInput.from_param(p.metric_step, label="Step (s)"),
                pn.widgets.Select.from_param(p.metric_agg, label="Aggregation"),
                go_metric,
            ),
            self._metric,
            name="Metrics",
        )
        go_sql = pn.widgets.Button(label="Run SQL", color="primary")
        go_sql.on_click(action(self.run_sql))
        sql = pn.Column(
            pn.widgets.TextAreaInput.from_param(
                p.sql, label="SQL (logs, spans, metrics)", height=100, sizing_mode="stretch_width"
            ),
            go_sql,
            self._sql_table,
            self._sql_chart,
            name="SQL",
        )
        alerts = pn.Column(
            pn.pane.Markdown("#### Alert rules"),
            self.alert_rules,
            pn.pane.Markdown("#### Alert events"),
            self.alert_events,
            name="Alerts",
        )
        return pn.Tabs(logs, trace, metrics, sql, alerts, dynamic=False)


def _log_frame(found: Any) -> pd.DataFrame:
    if found is None or len(found) == 0:
        return pd.DataFrame(columns=LOG_COLUMNS)
    data = found[[c for c in LOG_COLUMNS if c in found.columns]].copy()
    data["timestamp"] = pd.to_datetime(data["timestamp"], utc=True)
    out: pd.DataFrame = data.reset_index(drop=True)
    return out


def _chart(data: pd.DataFrame) -> Any:
    """A bar (or line, for a time axis) chart of the first numeric column by the first column."""
    if data.empty or len(data.columns) < 2:
        return None
    numeric = [c for c in data.columns[1:] if pd.api.types.is_numeric_dtype(data[c])]
    if not numeric:
        return None
    import hvplot.pandas  # noqa: F401

    x, y = data.columns[0], numeric[0]
    plot = data.head(500).copy()
    if pd.api.types.is_datetime64_any_dtype(plot[x]):
        return plot.hvplot.line(x=x, y=y, height=300)
    plot[x] = plot[x].astype(str)
    return plot.hvplot.bar(x=x, y=y, height=300, rot=45)
