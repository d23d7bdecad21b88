"""What every dashboard shares: the acting platform, server-side paged tables, guarded loads.

A dashboard is a :class:`Dashboard` (a ``pn.viewable.Viewer``) built with a
:class:`~platform_sdk.sdk.Platform` that acts as one user; it reads and acts only through
that platform's SDK objects, so the services' RBAC decides what it shows.

:class:`PagedTable` shows one page of a lazy SDK :class:`~platform_sdk.sdkbase.Listing` in a
``pn.widgets.Tabulator`` with its own previous/next buttons: a page turn asks the service for
that page only (``Listing`` pages are fetched one at a time), so a list of 10k runs costs one
page query, never a full load. Loads run under :func:`loading` (the spinner Panel draws over a
component while ``loading=True``); a permission or validation error becomes a message in the
view instead of a traceback, and an empty list says what to do next.
"""

# mypy: disable-error-code="no-untyped-call"
# (Panel's widget constructors are untyped; everything else here is checked strictly.)

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import panel as pn
import param

from platform_sdk.core.pagination import Page
from platform_sdk.errors import PlatformError
from platform_sdk.sdkbase import Listing, Resource

__all__ = ["Dashboard", "PagedTable", "action", "fetch_page", "frame", "loading"]

Row = dict[str, Any]


def fetch_page(listing: Listing[Any], number: int) -> Page[Any]:
    """Page ``number`` of ``listing`` — one service call for that page only."""
    return listing.page(number)


def frame(rows: list[Row], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` (missing values empty), JSON-ish cells as text."""
    out = pd.DataFrame([{c: _cell(r.get(c)) for c in columns} for r in rows], columns=columns)
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict | tuple):
        return ", ".join(map(str, value)) if not isinstance(value, dict) else str(value)
    return value


def action(fn: Callable[..., object]) -> Callable[..., None]:
    """``fn`` as a button or periodic callback (which pass an event or nothing; answer None)."""

    def run(*_: object) -> None:
        fn()

    return run


@contextmanager
def loading(*components: Any) -> Iterator[None]:
    """Show Panel's loading spinner over ``components`` while the block runs."""
    for c in components:
        c.loading = True
    try:
        yield
    finally:
        for c in components:
            c.loading = False


class Dashboard(pn.viewable.Viewer):
    """A dashboard over ``platform`` (acting as one user); ``message`` shows the last error."""

    platform = param.Parameter(doc="The Platform the dashboard reads and acts through.")
    message = param.String(default="", doc="The last error or notice shown to the user.")

    title: str = "Dashboard"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.param.watch(self._show_message, "message")

    def _show_message(self, event: param.parameterized.Event) -> None:
        self._alert.object = event.new
        self._alert.visible = bool(event.new)

    def guard(self, fn: Callable[[], Any], default: Any = None) -> Any:
        """Run ``fn``; a platform error becomes :attr:`message` (and ``default`` is answered)."""
        try:
            result = fn()
        except PlatformError as exc:
            self.message = f"{type(exc).__name__}: {exc}"
            return default
        self.message = ""
        return result

    def header(self) -> pn.viewable.Viewable:
        user = self.platform.actor.username
        return pn.Row(
            pn.pane.Markdown(f"## {self.title}", margin=(0, 10)),
            pn.pane.Markdown(f"signed in as **{user}**", margin=(12, 10), align="end"),
            sizing_mode="stretch_width",
        )

    def layout(self) -> pn.viewable.Viewable:
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.header(), self._alert, self.layout(), sizing_mode="stretch_width")


class PagedTable(pn.viewable.Viewer):
    """One page of a listing at a time, in a Tabulator with previous/next buttons.

    ``source`` answers a fresh :class:`Listing` for the current filters; ``row`` turns one
    SDK resource into a table row. ``reload()`` goes back to page 1 (call it when filters
    change); ``refresh()`` re-reads the current page.
    """

    page = param.Integer(default=1, bounds=(1, None))
    total = param.Integer(default=0)
    pages = param.Integer(default=0)

    def __init__(
        self,
        source: Callable[[], Listing[Any]],
        columns: list[str],
        *,
        row: Callable[[Resource[Any]], Row] | None = None,
        empty: str = "Nothing here yet.",
        on_error: Callable[[PlatformError], None] | None = None,
        name: str = "",
        height: int = 420,
    ) -> None:
        super().__init__(name=name)
        self.source = source
        self.columns = columns
        self.row = row or (lambda r: r.to_dict())
        self.empty = empty
        self.on_error = on_error
        self.items: list[Resource[Any]] = []
        self.table = pn.widgets.Tabulator(
            frame([], columns),
            disabled=True,
            show_index=False,
            selectable=1,
            pagination=None,
            sizing_mode="stretch_width",
            height=height,
        )
        self._empty = pn.pane.Markdown(empty, visible=False, css_classes=["empty-state"])
        self._prev = pn.widgets.Button(label="◀ Previous", width=110, disabled=True)
        self._next = pn.widgets.Button(label="Next ▶", width=110, disabled=True)
        self._status = pn.pane.Markdown("", margin=(8, 10))
        self._prev.on_click(lambda _: self.go(self.page - 1))
        self._next.on_click(lambda _: self.go(self.page + 1))

    @property
    def frame(self) -> pd.DataFrame:
        value: pd.DataFrame = self.table.value
        return value

    def selected(self) -> Resource[Any] | None:
        sel = self.table.selection
        return self.items[sel[0]] if sel and sel[0] < len(self.items) else None

    def reload(self) -> None:
        self.go(1)

    def refresh(self) -> None:
        self.go(self.page)

    def go(self, number: int) -> None:
        number = max(1, number)
        with loading(self.table):
            try:
                listing = self.source()
                page = fetch_page(listing, number)
            except PlatformError as exc:
                self.items, total, per_page, more = [], 0, 1, False
                self._empty.object = f"**Cannot show this list** — {exc}"
                if self.on_error is not None:
                    self.on_error(exc)
            else:
                self._empty.object = self.empty
                self.items = [listing.wrap(item) for item in page.items]
                total, per_page, more = page.total, page.per_page, page.next_page is not None
            self.page, self.total = number, total
            self.pages = max(1, -(-total // per_page)) if total else 0
            self.table.selection = []
            self.table.value = frame([self.row(i) for i in self.items], self.columns)
        self._empty.visible = not self.items
        self._prev.disabled = number <= 1
        self._next.disabled = not more
        self._status.object = (
            f"page {self.page} of {self.pages} · {self.total} in all" if self.total else ""
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._empty,
            self.table,
            pn.Row(self._prev, self._next, self._status),
            sizing_mode="stretch_width",
        )
