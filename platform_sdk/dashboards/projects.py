"""Projects: the projects the user may read, their issues and merge requests with filters, and a
merge request's diff and reviews.

Each list is a server-side :class:`~platform_sdk.dashboards.base.PagedTable` over the SDK's
lazy listings (``p.projects.list(search=…)``, ``project.issues.list(state=…, label=…,
search=…)``, ``project.merge_requests.list(state=…, search=…)``). Selecting a project row (or
typing its name) scopes the issue and MR tables; selecting an MR shows its diff and reviews.
"""

# mypy: disable-error-code="no-untyped-call"
# (Panel's widget constructors are untyped; everything else here is checked strictly.)

from __future__ import annotations

from typing import Any

import panel as pn
import param

from platform_sdk.dashboards.base import Dashboard, PagedTable, frame, loading
from platform_sdk.sdkbase import Listing

__all__ = ["ProjectsDashboard"]

PROJECT_COLUMNS = ["full_name", "visibility", "default_branch", "description", "updated_at"]
ISSUE_COLUMNS = ["number", "title", "state", "labels", "author", "assignee", "updated_at"]
MR_COLUMNS = ["number", "title", "state", "source_branch", "target_branch", "author", "updated_at"]
REVIEW_COLUMNS = ["reviewer", "verdict", "body", "commit_sha", "created_at"]


def _empty_listing() -> Listing[Any]:
    from platform_sdk.dashboards.pipelines import _no_page

    return Listing(_no_page, lambda x: x)


class ProjectsDashboard(Dashboard):
    """Projects, issues and merge requests as the acting user sees them."""

    title = "Projects"

    search = param.String(default="", doc="filter projects by name")
    project = param.String(default="", doc="owner/name of the project shown below")
    issue_state: Any = param.Selector(default="open", objects=["", "open", "closed"])
    issue_label = param.String(default="")
    issue_search = param.String(default="")
    mr_state: Any = param.Selector(default="open", objects=["", "open", "merged", "closed"])
    mr_search = param.String(default="")
    mr_number = param.Integer(default=None, allow_None=True, bounds=(1, None))

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.projects = PagedTable(
            lambda: self.platform.projects.list(search=self.search or None),
            PROJECT_COLUMNS,
            empty="No projects you can see. Create one: `platform projects create NAME` or "
            "`p.projects.create('name')`, or ask an admin for a role on one.",
            name="projects",
            height=260,
        )
        self.issues = PagedTable(
            self._issues,
            ISSUE_COLUMNS,
            empty="No issues match. Clear the filters, or open one: "
            "`project.issues.create('title')`.",
            name="issues",
            height=260,
        )
        self.merge_requests = PagedTable(
            self._merge_requests,
            MR_COLUMNS,
            empty="No merge requests match. Push a branch and open one: "
            "`project.merge_requests.create(...)`.",
            name="merge-requests",
            height=220,
        )
        self.projects.table.param.watch(self._pick_project, "selection")
        self.merge_requests.table.param.watch(self._pick_mr, "selection")
        self._mr_title = pn.pane.Markdown("Select a merge request to see its diff and reviews.")
        self._diff = pn.pane.Markdown("", sizing_mode="stretch_width", name="diff")
        self._reviews = pn.widgets.Tabulator(
            frame([], REVIEW_COLUMNS),
            disabled=True,
            show_index=False,
            height=160,
            sizing_mode="stretch_width",
            label="reviews",
        )
        self.projects.reload()
        if not self.project and self.projects.items:
            self.project = self.projects.items[0].full_name
        else:
            self._project_changed()

    # -- data -----------------------------------------------------------------------------
    def _issues(self) -> Listing[Any]:
        if not self.project:
            return _empty_listing()
        return self.platform.projects.get(self.project).issues.list(  # type: ignore[no-any-return]
            state=self.issue_state or None,
            label=self.issue_label or None,
            search=self.issue_search or None,
        )

    def _merge_requests(self) -> Listing[Any]:
        if not self.project:
            return _empty_listing()
        return self.platform.projects.get(self.project).merge_requests.list(  # type: ignore[no-any-return]
            state=self.mr_state or None, search=self.mr_search or None
        )

    @param.depends("search", watch=True)
    def _search_changed(self) -> None:
        self.projects.reload()

    @param.depends("project", watch=True)
    def _project_changed(self) -> None:
        self.mr_number = None
        self.issues.reload()
        self.merge_requests.reload()

    @param.depends("issue_state", "issue_label", "issue_search", watch=True)
    def _issue_filters(self) -> None:
        self.issues.reload()

    @param.depends("mr_state", "mr_search", watch=True)
    def _mr_filters(self) -> None:
        self.merge_requests.reload()

    def _pick_project(self, _: Any) -> None:
        chosen = self.projects.selected()
        if chosen is not None:
            self.project = chosen.full_name

    def _pick_mr(self, _: Any) -> None:
        chosen = self.merge_requests.selected()
        if chosen is not None:
            self.mr_number = chosen.number

    @param.depends("mr_number", watch=True)
    def load_mr(self) -> Any:
        """Show merge request ``mr_number``'s diff and reviews; answers the MR (or None)."""
        if self.mr_number is None or not self.project:
            self._mr_title.object = "Select a merge request to see its diff and reviews."
            self._diff.object = ""
            self._reviews.value = frame([], REVIEW_COLUMNS)
            return None
        with loading(self._diff, self._reviews):
            project = self.project
            number = self.mr_number
            mr = self.guard(lambda: self.platform.projects.get(project).merge_requests.get(number))
            if mr is None:
                return None
            diff = self.guard(mr.diff)
            reviews = self.guard(lambda: [r.to_dict() for r in mr.reviews.list()], [])
        self._mr_title.object = (
            f"### !{mr.number} {mr.title}\n{mr.source_branch} → {mr.target_branch} · "
            f"**{mr.state}** · by {mr.author}"
        )
        if diff is not None:
            files = "\n".join(
                f"- `{f.status}` {f.path} (+{f.additions}/-{f.deletions})" for f in diff.files
            )
            cut = "\n\n*(diff truncated)*" if diff.truncated else ""
            self._diff.object = f"{files}\n\n```diff\n{diff.patch[:200_000]}\n```{cut}"
        self._reviews.value = frame(reviews, REVIEW_COLUMNS)
        if not reviews:
            self._mr_title.object += "\n\n*No reviews yet.*"
        return mr

    # -- view -----------------------------------------------------------------------------
    def layout(self) -> pn.viewable.Viewable:
        p = self.param
        projects = pn.Column(
            pn.Row(
                pn.widgets.TextInput.from_param(p.search, label="Search projects"),
                pn.widgets.TextInput.from_param(p.project, label="Project"),
            ),
            self.projects,
        )
        issues = pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(p.issue_state, label="State"),
                pn.widgets.TextInput.from_param(p.issue_label, label="Label"),
                pn.widgets.TextInput.from_param(p.issue_search, label="Search"),
            ),
            self.issues,
            name="Issues",
        )
        mrs = pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(p.mr_state, label="State"),
                pn.widgets.TextInput.from_param(p.mr_search, label="Search"),
                pn.widgets.IntInput.from_param(p.mr_number, label="MR #"),
            ),
            self.merge_requests,
            self._mr_title,
            pn.pane.Markdown("#### Reviews"),
            self._reviews,
            pn.pane.Markdown("#### Diff"),
            self._diff,
            name="Merge requests",
        )
        return pn.Column(projects, pn.Tabs(issues, mrs, dynamic=False), sizing_mode="stretch_width")
