"""``platform projects …``."""

from __future__ import annotations

import click

from platform_sdk.clikit import emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.projects.models import Visibility
from platform_sdk.projects.sdk import ProjectManager

__all__ = ["projects"]

_COLUMNS = ("full_name", "visibility", "default_branch", "description")


@click.group()
def projects() -> None:
    """Create, list, show, update and delete projects."""


@projects.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the project is.")
@click.option(
    "--visibility",
    type=click.Choice([v.value for v in Visibility]),
    default=Visibility.PRIVATE.value,
    show_default=True,
)
@click.option("--default-branch", default="main", show_default=True)
@json_option
def create(
    name: str, description: str, visibility: str, default_branch: str, as_json: bool
) -> None:
    """Create project NAME owned by the acting user (who becomes its admin)."""
    with open_platform() as p:
        project = ProjectManager(p).create(
            name, description=description, visibility=visibility, default_branch=default_branch
        )
    emit(project.to_dict(), as_json=as_json)


@projects.command("list")
@click.option("--owner", help="Only projects of this owner.")
@click.option("--search", help="Text in the name or description.")
@json_option
def list_(owner: str | None, search: str | None, as_json: bool) -> None:
    """List the projects the acting user may read."""
    with open_platform() as p:
        rows = [pr.to_dict() for pr in ProjectManager(p).list(owner=owner, search=search)]
    emit(rows if as_json else [{k: r[k] for k in _COLUMNS} for r in rows], as_json=as_json)


@projects.command("show")
@click.argument("ref")
@json_option
def show(ref: str, as_json: bool) -> None:
    """Show project REF (owner/name or id)."""
    with open_platform() as p:
        emit(ProjectManager(p).get(ref).to_dict(), as_json=as_json)


@projects.command("update")
@click.argument("ref")
@click.option("--description", help="New description.")
@click.option("--visibility", type=click.Choice([v.value for v in Visibility]))
@click.option("--default-branch", help="An existing branch (any name while the repo is empty).")
@click.option(
    "--protect", "protect", multiple=True, metavar="PATTERN", help="Protect a branch or pattern."
)
@click.option(
    "--unprotect", "unprotect", multiple=True, metavar="PATTERN", help="Stop protecting it."
)
@json_option
def update(
    ref: str,
    description: str | None,
    visibility: str | None,
    default_branch: str | None,
    protect: tuple[str, ...],
    unprotect: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change settings of project REF; options left out stay as they are."""
    with open_platform() as p:
        project = ProjectManager(p).get(ref)
        protected: list[str] | None = None
        if protect or unprotect:
            current = [b for b in project.protected_branches if b not in unprotect]
            protected = list(dict.fromkeys([*current, *protect]))
        project.update(
            description=description,
            visibility=visibility,
            default_branch=default_branch,
            protected_branches=protected,
        )
    emit(project.to_dict(), as_json=as_json)


@projects.command("rm")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rm(ref: str, yes: bool) -> None:
    """Delete project REF: its name is freed and its repository moved aside."""
    with open_platform() as p:
        project = ProjectManager(p).get(ref)
        if not yes:
            click.confirm(f"Delete {project.full_name}?", abort=True)
        project.delete()
    click.echo(f"deleted {project.full_name}")
