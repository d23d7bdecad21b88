"""Pipelines: runs per project (paged server-side), a run's steps with live status, step logs,
artifact downloads, and cancel / re-run.

The runs table is a :class:`~platform_sdk.dashboards.base.PagedTable` over
``project.pipelines.list(status=…, ref=…)``, so 10k runs cost one page query. Selecting a row
(or typing a run number) shows that run; while it is not finished a periodic callback
(``pn.state.add_periodic_callback``, every ``poll_ms``) re-reads it and the visible page, so
statuses change on screen without a reload. :meth:`PipelinesDashboard.tick` is that callback
and is what tests call directly.
"""

# mypy: disable-error-code="no-untyped-call"
# (Panel's widget constructors are untyped; everything else here is checked strictly.)

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import panel as pn
import param

from platform_sdk.dashboards.base import Dashboard, PagedTable, frame, loading
from platform_sdk.pipelines.schemas import RunStatus
from platform_sdk.pipelines.sdk import PipelineRun
from platform_sdk.sdkbase import Listing

__all__ = ["PipelinesDashboard", "run_row", "step_frame"]

RUN_COLUMNS = ["number", "status", "ref", "trigger", "triggered_by", "created_at", "duration_s"]
STEP_COLUMNS = ["name", "status", "attempt", "depends_on", "exit_code", "duration_s"]


def run_row(run: Any) -> dict[str, Any]:
    d = run._data
    return {
        "number": d.number,
        "status": d.status.value,
        "ref": d.ref,
        "trigger": d.trigger.value,
        "triggered_by": d.triggered_by or "",
        "created_at": d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "duration_s": None if d.duration is None else round(d.duration, 1),
    }


def step_frame(run: PipelineRun) -> pd.DataFrame:
    rows = [
        {
            "name": s.name,
            "status": s.status.value,
            "attempt": s.attempt,
            "depends_on": s.depends_on,
            "exit_code": s.exit_code,
            "duration_s": None if s.duration is None else round(s.duration, 1),
        }
        for s in run._data.steps
    ]
    return frame(rows, STEP_COLUMNS)


class PipelinesDashboard(Dashboard):
    """Runs of one project; a selected run's steps, logs and artifacts; cancel and re-run."""

    title = "Pipelines"

    project: Any = param.Selector(default=None, objects=[], doc="owner/name")
    status: Any = param.Selector(default="", objects=["", *(s.value for s in RunStatus)])
    ref = param.String(default="")
    run_number = param.Integer(default=None, allow_None=True, bounds=(1, None))
    step: Any = param.Selector(default=None, objects=[])
    poll_ms = param.Integer(default=1000, bounds=(100, None))

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.run: PipelineRun | None = None
        self.runs = PagedTable(
            self._listing,
            RUN_COLUMNS,
            row=run_row,
            empty="No runs yet. Push a commit with a `.platform.yaml`, or trigger a run: "
            "`project.pipelines.trigger('main')`.",
            name="runs",
        )
        self.runs.table.param.watch(self._on_select, "selection")
        self._run_status = pn.pane.Markdown("Select a run to see its steps.", name="run-status")
        self._steps = pn.widgets.Tabulator(
            frame([], STEP_COLUMNS),
            disabled=True,
            show_index=False,
            sizing_mode="stretch_width",
            height=240,
        )
        self._log = pn.pane.Str("", sizing_mode="stretch_width", max_height=400, name="log")
        self._artifacts = pn.Column(name="artifacts")
        self._cancel = pn.widgets.Button(label="Cancel run", color="danger", disabled=True)
        self._rerun = pn.widgets.Button(label="Re-run", color="primary", disabled=True)
        self._cancel.on_click(lambda _: self.cancel())
        self._rerun.on_click(lambda _: self.rerun())
        self._poll: Any = None
        projects = self.guard(lambda: [p.full_name for p in self.platform.projects.list()], [])
        self.param.project.objects = projects
        if self.project is None and projects:
            self.project = projects[0]
        self.runs.reload()

    # -- data -----------------------------------------------------------------------------
    def _listing(self) -> Listing[Any]:
        if not self.project:
            return Listing(_no_page, lambda x: x)
        manager = self.platform.projects.get(self.project).pipelines
        return manager.list(status=self.status or None, ref=self.ref or None)  # type: ignore[no-any-return]

    @param.depends("project", "status", "ref", watch=True)
    def _filters_changed(self) -> None:
        self.run_number = None
        self.runs.reload()

    def _on_select(self, event: param.parameterized.Event) -> None:
        chosen = self.runs.selected()
        if chosen is not None:
            self.run_number = chosen.number

    @param.depends("run_number", watch=True)
    def load_run(self) -> None:
        """Show run ``run_number`` (steps, status, artifacts) or clear the run view."""
        if self.run_number is None or not self.project:
            self.run = None
        else:
            with loading(self._steps):
                manager = self.platform.projects.get(self.project).pipelines
                self.run = self.guard(lambda: manager.get(self.run_number))
        self._render_run()
        self._render_artifacts()

    def _render_run(self) -> None:
        run = self.run
        if run is None:
            self._run_status.object = "Select a run to see its steps."
            self._steps.value = frame([], STEP_COLUMNS)
            self.param.step.objects = []
            self._cancel.disabled = self._rerun.disabled = True
            return
        d = run._data
        self._run_status.object = (
            f"### Run #{d.number} · **{d.status.value}** · {d.ref} @ {d.commit_sha[:10]}"
            + (f"\n\n{d.error}" if d.error else "")
        )
        self._steps.value = step_frame(run)
        names = [s.name for s in d.steps]
        self.param.step.objects = names
        if self.step not in names:
            self.step = names[0] if names else None
        self._cancel.disabled = d.status.is_terminal
        self._rerun.disabled = not d.status.is_terminal

    def _render_artifacts(self) -> None:
        self._artifacts.clear()
        run = self.run
        if run is None:
            return
        artifacts = self.guard(lambda: run.artifacts, [])
        if not artifacts:
            self._artifacts.append(
                pn.pane.Markdown("*No artifacts: declare `artifacts:` in a step.*")
            )
        for art in artifacts:
            self._artifacts.append(
                pn.widgets.FileDownload(
                    callback=lambda a=art: io.BytesIO(a.read()),
                    filename=art.name.rsplit("/", 1)[-1],
                    label=f"{art.name} ({art.size_bytes} B)",
                    color="light",
                )
            )

    @param.depends("step", watch=True)
    def load_log(self) -> str:
        """The selected step's log (also shown in the log pane)."""
        run, step = self.run, self.step
        text = ""
        if run is not None and step:
            steps = {s.name: s for s in run._data.steps}
            if step in steps:
                from platform_sdk.pipelines.sdk import Step

                text = self.guard(lambda: Step(run._manager, steps[step], run).logs(), "")
        self._log.object = text or "(no output yet)"
        return text

    def tick(self) -> None:
        """The periodic refresh: re-read a running run, its log, and the visible page."""
        run = self.run
        if run is not None and not run._data.status.is_terminal:
            self.guard(run.refresh)
            self._render_run()
            self.load_log()
            if _ended(run):
                self._render_artifacts()
        if any(r["status"] not in _TERMINAL for r in self.runs.frame.to_dict("records")):
            self.runs.refresh()

    # -- actions --------------------------------------------------------------------------
    def cancel(self) -> None:
        if self.run is not None:
            self.guard(self.run.cancel)
            self._render_run()
            self.runs.refresh()

    def rerun(self) -> None:
        if self.run is not None:
            new = self.guard(self.run.rerun)
            if new is not None:
                self.runs.reload()
                self.run_number = new.number

    # -- view -----------------------------------------------------------------------------
    def layout(self) -> pn.viewable.Viewable:
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(self.tick, period=self.poll_ms)
        filters = pn.Row(
            pn.widgets.Select.from_param(self.param.project, label="Project"),
            pn.widgets.Select.from_param(self.param.status, label="Status"),
            pn.widgets.TextInput.from_param(self.param.ref, label="Ref", placeholder="any"),
            pn.widgets.IntInput.from_param(self.param.run_number, label="Run #"),
        )
        run_view = pn.Column(
            self._run_status,
            pn.Row(self._cancel, self._rerun),
            self._steps,
            pn.widgets.Select.from_param(self.param.step, label="Step log"),
            self._log,
            pn.pane.Markdown("#### Artifacts"),
            self._artifacts,
            sizing_mode="stretch_width",
        )
        return pn.Column(filters, self.runs, run_view, sizing_mode="stretch_width")


def _ended(run: PipelineRun) -> bool:
    return bool(run._data.status.is_terminal)


_TERMINAL = {s.value for s in RunStatus if s.is_terminal}


def _no_page(number: int) -> Any:
    from platform_sdk.core.pagination import Page

    return Page[Any](items=[], page=number, per_page=1, total=0, next_page=None)
