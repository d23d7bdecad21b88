"""``platform tokens create|list|revoke``.

``create`` prints the token once — the only time it is ever shown — with a reminder on stderr;
``list`` shows the first characters after ``plat_`` so a token can be recognised without
being revealed. ``--user`` acts on another user's tokens: one's agent, or anyone for an admin.
Lifetimes are ``--expires-in`` a duration (``90m``, ``12h``, ``30d``, ``1w2d``, the syntax of
``platform delegate --for``) or ``--expires-at`` an ISO 8601 time with a timezone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from platform_sdk.clikit import PlatformGroup, emit, json_option
from platform_sdk.core.access import Perm
from platform_sdk.identity.cli.roles import parse_duration
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.identity.sdk.tokens import Token, TokenManager
from platform_sdk.identity.sdk.users import UserManager
from platform_sdk.sdk import Platform

__all__ = ["tokens"]


def _manager(p: Platform, user: str | None) -> TokenManager:
    return UserManager(p).get(user).tokens if user else TokenManager(p)


def _row(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": f"plat_{token.prefix}…",
        "user": token.user,
        "scopes": "(all)" if token.scopes is None else token.scopes,
        "project_id": token.project_id,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@click.group(cls=PlatformGroup)
def tokens() -> None:
    """Create, list and revoke API tokens (plat_…)."""


@tokens.command()
@click.argument("name")
@click.option("--user", default=None, help="Whose token (default: yours).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice([p.value for p in Perm]),
    help="Limit the token to this permission (repeatable; default: no limit).",
)
@click.option("--project", default=None, help="Bound the token to this project (owner/name).")
@click.option("--expires-in", default=None, help="Lifetime, e.g. 12h, 30d, 1w2d.")
@click.option("--expires-at", default=None, help="Expiry, ISO 8601 with a timezone.")
@json_option
def create(
    name: str,
    user: str | None,
    scopes: tuple[str, ...],
    project: str | None,
    expires_in: str | None,
    expires_at: str | None,
    as_json: bool,
) -> None:
    """Create a token NAME and print it once."""
    if expires_in and expires_at:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    expiry: Any = None
    try:
        if expires_in:
            expiry = parse_duration(expires_in)
        elif expires_at:
            expiry = datetime.fromisoformat(expires_at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-in/--expires-at") from None
    with open_platform() as p:
        token = _manager(p, user).create(
            name, expires_at=expiry, scopes=list(scopes) or None, project=project
        )
    record = token.to_dict()
    if not as_json and record["scopes"] is None:
        record["scopes"] = "(all)"
    emit(record, as_json=as_json)
    if not as_json:
        click.echo("\nCopy the token now: it is shown only once.", err=True)


@tokens.command(name="list")
@click.option("--user", default=None, help="Whose tokens (default: yours).")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@json_option
def list_(user: str | None, include_revoked: bool, as_json: bool) -> None:
    """List tokens, newest first (never their values)."""
    with open_platform() as p:
        found = list(_manager(p, user).list(include_revoked=include_revoked))
    if as_json:
        emit([t.to_dict() for t in found], as_json=True)
    else:
        emit([_row(t) for t in found], as_json=False)


@tokens.command()
@click.argument("token_id")
@json_option
def revoke(token_id: str, as_json: bool) -> None:
    """Revoke the token TOKEN_ID at once."""
    with open_platform() as p:
        token = TokenManager(p).revoke(token_id)
    if as_json:
        emit(token.to_dict(), as_json=True)
    else:
        click.echo(f"revoked token {token.name!r} ({token.id}) of {token.user}")
