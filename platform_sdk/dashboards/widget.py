"""``run.widget()``: an ipywidgets live view of a pipeline run for notebooks.

The widget is a ``VBox`` of a status line and an HTML table of the steps (status, attempt,
duration). A daemon thread re-reads the run through the SDK every ``interval`` seconds and
updates the widget until the run has ended (ipywidgets sends each change to the front end as
it is set, from any thread), then stops; ``widget.refresh()`` updates it once by hand.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_sdk.pipelines.sdk import PipelineRun

__all__ = ["run_widget"]

_COLOURS = {
    "success": "#1a7f37",
    "failure": "#cf222e",
    "running": "#0969da",
    "cancelled": "#6e7781",
    "pending": "#9a6700",
}


def render(run: PipelineRun) -> tuple[str, str]:
    """The status line and the step table of ``run`` as HTML."""
    d = run._data
    colour = _COLOURS.get(d.status.value, "#57606a")
    head = (
        f"<b>{html.escape(d.project)} #{d.number}</b> · {html.escape(d.ref)} · "
        f"<span class='run-status' style='color:{colour}'>{d.status.value}</span>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(s.name)}</td>"
        f"<td style='color:{_COLOURS.get(s.status.value, '#57606a')}'>{s.status.value}</td>"
        f"<td>{s.attempt}</td>"
        f"<td>{'' if s.duration is None else f'{s.duration:.1f} s'}</td></tr>"
        for s in d.steps
    )
    table = (
        "<table><thead><tr><th>step</th><th>status</th><th>attempt</th><th>duration</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return head, table


def run_widget(run: PipelineRun, *, interval: float = 1.0, live: bool = True) -> Any:
    """A live ``ipywidgets.VBox`` of ``run`` (see the module docstring)."""
    try:
        import ipywidgets as widgets  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("run.widget() needs ipywidgets: pip install ipywidgets") from exc

    head, table = render(run)
    status = widgets.HTML(head)
    steps = widgets.HTML(table)
    box = widgets.VBox([status, steps])
    stop = threading.Event()

    def refresh() -> bool:
        run.refresh()
        status.value, steps.value = render(run)
        return bool(run._data.status.is_terminal)

    def loop() -> None:
        while not stop.wait(interval):
            try:
                if refresh():
                    return
            except Exception:
                status.value += " · <i>(updates stopped)</i>"
                return

    box.refresh = refresh
    box.stop = stop.set
    if live and not run._data.status.is_terminal:
        threading.Thread(target=loop, name=f"run-widget-{run.number}", daemon=True).start()
    return box
