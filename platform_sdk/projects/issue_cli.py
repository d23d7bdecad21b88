"""``platform issues …``: list, create, show, close, reopen and comment, over the SDK."""

from __future__ import annotations

import click

from platform_sdk.clikit import emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.projects.issue_schemas import IssueState
from platform_sdk.projects.issue_sdk import IssueManager

__all__ = ["issues"]

_COLUMNS = ("number", "state", "title", "labels", "assignee", "author")


@click.group()
def issues() -> None:
    """Open, list, close and discuss issues."""


@issues.command("list")
@click.argument("project")
@click.option("--state", type=click.Choice([s.value for s in IssueState]))
@click.option("--label", help="Only issues carrying this label.")
@click.option("--assignee", help="Only issues assigned to this user ('none': unassigned).")
@click.option("--search", help="Text in the title or body.")
@json_option
def list_(
    project: str,
    state: str | None,
    label: str | None,
    assignee: str | None,
    search: str | None,
    as_json: bool,
) -> None:
    """List issues of PROJECT (owner/name), newest first."""
    with open_platform() as p:
        found = IssueManager(p, project).list(
            state=state, label=label, assignee=assignee, search=search
        )
        rows = [i.to_dict() for i in found]
    emit(rows if as_json else [{k: r[k] for k in _COLUMNS} for r in rows], as_json=as_json)


@issues.command("create")
@click.argument("project")
@click.argument("title")
@click.option("--body", default="", help="Description (markdown).")
@click.option("--label", "labels", multiple=True, help="A label (repeat for more).")
@click.option("--assignee", help="Username to assign.")
@json_option
def create(
    project: str,
    title: str,
    body: str,
    labels: tuple[str, ...],
    assignee: str | None,
    as_json: bool,
) -> None:
    """Open an issue titled TITLE in PROJECT."""
    with open_platform() as p:
        issue = IssueManager(p, project).create(
            title, body=body, labels=list(labels), assignee=assignee
        )
    emit(issue.to_dict(), as_json=as_json)


@issues.command("show")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def show(project: str, number: int, as_json: bool) -> None:
    """Show issue NUMBER of PROJECT with its comments."""
    with open_platform() as p:
        issue = IssueManager(p, project).get(number)
        record = issue.to_dict()
        record["comments"] = [c.to_dict() for c in issue.comments.list()]
    if not as_json:
        record["comments"] = [f"{c['author']}: {c['body']}" for c in record["comments"]]
    emit(record, as_json=as_json)


@issues.command("close")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def close(project: str, number: int, as_json: bool) -> None:
    """Close issue NUMBER."""
    with open_platform() as p:
        emit(IssueManager(p, project).get(number).close().to_dict(), as_json=as_json)


@issues.command("reopen")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def reopen(project: str, number: int, as_json: bool) -> None:
    """Reopen issue NUMBER."""
    with open_platform() as p:
        emit(IssueManager(p, project).get(number).reopen().to_dict(), as_json=as_json)


@issues.command("comment")
@click.argument("project")
@click.argument("number", type=int)
@click.argument("text")
@json_option
def comment(project: str, number: int, text: str, as_json: bool) -> None:
    """Comment TEXT on issue NUMBER."""
    with open_platform() as p:
        emit(IssueManager(p, project).get(number).comments.create(text).to_dict(), as_json=as_json)
