"""``platform users create|list|show|deactivate|activate``.

Verbs are thin layers over :class:`~platform_sdk.identity.sdk.users.UserManager`, opened with
:func:`~platform_sdk.identity.cli_common.open_platform`, so they act as the data dir's admin or
as the global ``--as USER`` and every rule is the services'.

Passwords never appear on the command line (shell history, ``ps``): ``create`` reads one from
stdin with ``--password-stdin`` or, for a human, generates one and prints it once. Agents get
no password; give them a credential with ``platform tokens create --user AGENT``.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from platform_sdk.clikit import PlatformGroup, emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.identity.passwords import generate_password
from platform_sdk.identity.sdk.users import User, UserManager

__all__ = ["users"]


def _row(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "kind": user.kind.value,
        "active": "yes" if user.is_active else "no",
        "owner": user.owner,
        "email": user.email,
        "display_name": user.display_name,
        "last_login_at": user.last_login_at,
    }


@click.group(cls=PlatformGroup)
def users() -> None:
    """Create, list and (de)activate users and agents."""


@users.command()
@click.argument("username")
@click.option("--email", default=None, help="E-mail address.")
@click.option("--display-name", default=None, help="Name shown in the UI.")
@click.option("--agent", is_flag=True, help="Create an agent you own (needs agent:run).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--no-password", is_flag=True, help="Create a human without a password.")
@json_option
def create(
    username: str,
    email: str | None,
    display_name: str | None,
    agent: bool,
    password_stdin: bool,
    no_password: bool,
    as_json: bool,
) -> None:
    """Create USERNAME; a human without --password-stdin gets a password, printed once."""
    if agent and (password_stdin or no_password):
        raise click.UsageError("agents have no password: drop --password-stdin/--no-password")
    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    generated: str | None = None
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not agent and not no_password:
        password = generated = generate_password()
    with open_platform() as p:
        user = UserManager(p).create(
            username,
            email=email,
            display_name=display_name,
            kind="agent" if agent else "human",
            password=password,
        )
    record = user.to_dict()
    if generated is not None:
        record["password"] = generated
    emit(record, as_json=as_json)
    if generated is not None and not as_json:
        click.echo("\nKeep the password now: it is shown only once.", err=True)


@users.command(name="list")
@click.option("--kind", type=click.Choice(["human", "agent"]), default=None, help="Only this kind.")
@click.option(
    "--active/--inactive", "active", default=None, help="Only active (or inactive) users."
)
@click.option("-q", "--search", default=None, help="Search username, display name, e-mail.")
@json_option
def list_(kind: str | None, active: bool | None, search: str | None, as_json: bool) -> None:
    """List users by username (without admin:users: yourself and your agents)."""
    with open_platform() as p:
        found = list(UserManager(p).list(kind=kind, active=active, q=search))
    if as_json:
        emit([u.to_dict() for u in found], as_json=True)
    else:
        emit([_row(u) for u in found], as_json=False)


@users.command()
@click.argument("username")
@json_option
def show(username: str, as_json: bool) -> None:
    """Show one user."""
    with open_platform() as p:
        user = UserManager(p).get(username)
    emit(user.to_dict(), as_json=as_json)


@users.command()
@click.argument("username")
@json_option
def deactivate(username: str, as_json: bool) -> None:
    """Deactivate USERNAME: its sessions and API tokens stop working at once."""
    with open_platform() as p:
        user = UserManager(p).get(username).deactivate()
    emit(user.to_dict(), as_json=as_json)


@users.command()
@click.argument("username")
@json_option
def activate(username: str, as_json: bool) -> None:
    """Reactivate USERNAME (its old sessions and tokens stay revoked)."""
    with open_platform() as p:
        user = UserManager(p).get(username).activate()
    emit(user.to_dict(), as_json=as_json)
