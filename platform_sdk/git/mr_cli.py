"""``platform mr …``: merge requests from the command line, over the SDK."""

from __future__ import annotations

import click

from platform_sdk.clikit import emit, json_option
from platform_sdk.git.mr_schemas import MergeRequestState, MergeStrategy, ReviewVerdict
from platform_sdk.git.mr_sdk import MergeRequestManager
from platform_sdk.identity.cli_common import open_platform

__all__ = ["mr"]

_COLUMNS = ("number", "state", "title", "source_branch", "target_branch", "author")


@click.group()
def mr() -> None:
    """Open, review, merge and close merge requests."""


@mr.command("list")
@click.argument("project")
@click.option("--state", type=click.Choice([s.value for s in MergeRequestState]))
@click.option("--author", help="Only merge requests opened by this user.")
@click.option("--target", "target_branch", help="Only those into this branch.")
@click.option("--search", help="Text in the title or body.")
@json_option
def list_(
    project: str,
    state: str | None,
    author: str | None,
    target_branch: str | None,
    search: str | None,
    as_json: bool,
) -> None:
    """List merge requests of PROJECT (owner/name), newest first."""
    with open_platform() as p:
        found = MergeRequestManager(p, project).list(
            state=state, author=author, target_branch=target_branch, search=search
        )
        rows = [m.to_dict() for m in found]
    emit(rows if as_json else [{k: r[k] for k in _COLUMNS} for r in rows], as_json=as_json)


@mr.command("create")
@click.argument("project")
@click.argument("source")
@click.argument("target")
@click.option("--title", required=True)
@click.option("--body", default="")
@json_option
def create(project: str, source: str, target: str, title: str, body: str, as_json: bool) -> None:
    """Open a merge request from branch SOURCE into branch TARGET."""
    with open_platform() as p:
        m = MergeRequestManager(p, project).create(source, target, title=title, body=body)
    emit(m.to_dict(), as_json=as_json)


@mr.command("show")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def show(project: str, number: int, as_json: bool) -> None:
    """Show merge request NUMBER with its commits and reviews."""
    with open_platform() as p:
        m = MergeRequestManager(p, project).get(number)
        record = m.to_dict()
        record["reviews"] = [r.to_dict() for r in m.reviews.list()]
        if m.state == MergeRequestState.OPEN or m.source_sha:
            record["commits"] = [c.model_dump(mode="json") for c in m.commits()]
    if not as_json:
        record["reviews"] = [f"{r['reviewer']}: {r['verdict']}" for r in record["reviews"]]
        record["commits"] = [f"{c['sha'][:10]} {c['title']}" for c in record.get("commits", [])]
    emit(record, as_json=as_json)


@mr.command("diff")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def diff(project: str, number: int, as_json: bool) -> None:
    """Print the patch of merge request NUMBER (or, with --json, files and patch)."""
    with open_platform() as p:
        d = MergeRequestManager(p, project).get(number).diff()
    if as_json:
        emit(d.model_dump(mode="json"), as_json=True)
    else:
        click.echo(d.patch, nl=False)


@mr.command("review")
@click.argument("project")
@click.argument("number", type=int)
@click.option("--approve", "verdict", flag_value=ReviewVerdict.APPROVED.value)
@click.option("--request-changes", "verdict", flag_value=ReviewVerdict.CHANGES_REQUESTED.value)
@click.option("--comment", "verdict", flag_value=ReviewVerdict.COMMENTED.value)
@click.option("--body", default="")
@json_option
def review(project: str, number: int, verdict: str | None, body: str, as_json: bool) -> None:
    """Review merge request NUMBER: --approve, --request-changes or --comment."""
    if verdict is None:
        raise click.UsageError("choose one of --approve, --request-changes, --comment")
    with open_platform() as p:
        r = MergeRequestManager(p, project).get(number).reviews.create(verdict, body)
    emit(r.to_dict(), as_json=as_json)


@mr.command("merge")
@click.argument("project")
@click.argument("number", type=int)
@click.option(
    "--strategy",
    type=click.Choice([s.value for s in MergeStrategy]),
    default=MergeStrategy.MERGE.value,
    show_default=True,
)
@click.option("--expected-target", help="Refuse unless the target branch is at this commit.")
@json_option
def merge(
    project: str, number: int, strategy: str, expected_target: str | None, as_json: bool
) -> None:
    """Merge NUMBER on the server; conflicts are refused and change nothing."""
    with open_platform() as p:
        m = MergeRequestManager(p, project).get(number)
        emit(m.merge(strategy, expected_target_sha=expected_target).to_dict(), as_json=as_json)


@mr.command("close")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def close(project: str, number: int, as_json: bool) -> None:
    """Close merge request NUMBER without merging."""
    with open_platform() as p:
        emit(MergeRequestManager(p, project).get(number).close().to_dict(), as_json=as_json)


@mr.command("reopen")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def reopen(project: str, number: int, as_json: bool) -> None:
    """Reopen merge request NUMBER."""
    with open_platform() as p:
        emit(MergeRequestManager(p, project).get(number).reopen().to_dict(), as_json=as_json)
