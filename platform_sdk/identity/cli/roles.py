"""``platform roles …``, ``grant``/``revoke`` and ``delegate``/``undelegate``/``delegations``.

Every verb is a thin layer over the SDK objects (:mod:`platform_sdk.identity.sdk.roles`,
:mod:`platform_sdk.identity.sdk.delegations`), opened with
:func:`~platform_sdk.identity.cli_common.open_platform`, so it acts as the data dir's admin or
as the global ``--as USER`` and every rule is the services'. Verbs that print records take
``--json``. ``delegate`` takes the end either as ``--until`` (ISO 8601 with a timezone) or as
``--for`` a duration from now (``90m``, ``2h``, ``7d``, ``1w2d``).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import click

from platform_sdk.clikit import PlatformGroup, emit, json_option
from platform_sdk.core.access import Perm
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.identity.sdk.delegations import DelegationManager
from platform_sdk.identity.sdk.roles import BindingManager, RoleManager

__all__ = ["delegate", "delegations", "grant", "parse_duration", "revoke", "roles", "undelegate"]

_PERMISSION = click.Choice([p.value for p in Perm])
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``7d``, ``1w2d`` → a positive timedelta; ``ValueError`` otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration like 90m, 2h, 7d or 1w2d")
    delta = timedelta()
    for number, unit in parts:
        delta += timedelta(**{_UNITS[unit]: int(number)})
    if delta <= timedelta(0):
        raise ValueError("the duration must be longer than zero")
    return delta


def _role_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": r["name"],
        "system": "yes" if r["is_system"] else "",
        "permissions": r["permissions"],
        "description": r["description"],
    }


def _binding_row(b: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": b["id"],
        "user": b["user"],
        "role": b["role"],
        "project": b["project"] or "(global)",
        "granted_by": b["granted_by"] or "",
        "created": b["created_at"][:19].replace("T", " "),
    }


def _delegation_row(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"],
        "grantor": d["grantor"],
        "grantee": d["grantee"],
        "permission": d["permission"],
        "project": d["project"] or "(global)",
        "expires": d["expires_at"][:19].replace("T", " ") if d["expires_at"] else "never",
        "active": "yes" if d["active"] else "no",
        "reason": d["reason"],
    }


# -- roles ----------------------------------------------------------------------------------
@click.group(cls=PlatformGroup)
def roles() -> None:
    """Roles, their permissions, and role bindings."""


@roles.command("list")
@json_option
def list_roles(as_json: bool) -> None:
    """List the roles (system roles first)."""
    with open_platform() as p:
        rows = [r.to_dict() for r in RoleManager(p).list()]
    emit(rows if as_json else [_role_row(r) for r in rows], as_json=as_json)


@roles.command()
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show one role and its permissions."""
    with open_platform() as p:
        emit(RoleManager(p).get(name).to_dict(), as_json=as_json)


@roles.command()
@click.argument("name")
@click.option(
    "-p", "--permission", "permissions", multiple=True, type=_PERMISSION, help="Repeatable."
)
@click.option("--description", default="", help="What the role is for.")
@json_option
def create(name: str, permissions: tuple[str, ...], description: str, as_json: bool) -> None:
    """Create a custom role (needs admin:roles; you must hold its permissions)."""
    with open_platform() as p:
        role = RoleManager(p).create(name, list(permissions), description=description)
        emit(role.to_dict(), as_json=as_json)


@roles.command()
@click.argument("name")
@click.option(
    "-p",
    "--permission",
    "permissions",
    multiple=True,
    type=_PERMISSION,
    help="Replace the permissions with these (repeatable).",
)
@click.option("--add", multiple=True, type=_PERMISSION, help="Add a permission (repeatable).")
@click.option("--remove", multiple=True, type=_PERMISSION, help="Remove one (repeatable).")
@click.option("--description", default=None, help="New description.")
@json_option
def update(
    name: str,
    permissions: tuple[str, ...],
    add: tuple[str, ...],
    remove: tuple[str, ...],
    description: str | None,
    as_json: bool,
) -> None:
    """Change a custom role's description or permissions."""
    if permissions and (add or remove):
        raise click.UsageError("give either --permission or --add/--remove, not both")
    with open_platform() as p:
        role = RoleManager(p).get(name)
        wanted: list[str] | None = None
        if permissions:
            wanted = list(permissions)
        elif add or remove:
            wanted = sorted((set(role.permissions) | set(add)) - set(remove))
        role.update(description=description, permissions=wanted)
        emit(role.to_dict(), as_json=as_json)


@roles.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Also remove the role's bindings.")
def delete(name: str, force: bool) -> None:
    """Delete a custom role (refused while it is bound, unless --force)."""
    with open_platform() as p:
        RoleManager(p).get(name).delete(force=force)
    click.echo(f"deleted role {name}")


@roles.command()
@json_option
def permissions(as_json: bool) -> None:
    """List the permission catalogue."""
    with open_platform() as p:
        rows = [perm.model_dump() for perm in RoleManager(p).catalogue()]
    emit(rows, as_json=as_json)


@roles.command()
@click.option("--user", help="Only this user's bindings.")
@click.option("--role", help="Only bindings to this role.")
@click.option("--project", help="Only bindings in this project (owner/name or id).")
@json_option
def bindings(user: str | None, role: str | None, project: str | None, as_json: bool) -> None:
    """List role bindings (yours, your projects', or all for admins)."""
    with open_platform() as p:
        rows = [b.to_dict() for b in BindingManager(p).list(user=user, role=role, project=project)]
    emit(rows if as_json else [_binding_row(b) for b in rows], as_json=as_json)


# -- bindings -------------------------------------------------------------------------------
@click.command()
@click.argument("role")
@click.argument("user")
@click.option("--project", help="Bind in this project only (owner/name or id).")
@json_option
def grant(role: str, user: str, project: str | None, as_json: bool) -> None:
    """Give USER the role ROLE, globally or in --project."""
    with open_platform() as p:
        binding = BindingManager(p).create(user, role, project)
        emit(binding.to_dict() if as_json else _binding_row(binding.to_dict()), as_json=as_json)


@click.command()
@click.argument("role", required=False)
@click.argument("user", required=False)
@click.option("--project", help="The binding's project (owner/name or id).")
@click.option("--id", "binding_id", type=click.UUID, help="Remove the binding with this id.")
def revoke(
    role: str | None, user: str | None, project: str | None, binding_id: uuid.UUID | None
) -> None:
    """Take ROLE from USER (globally or in --project), or remove the binding --id."""
    if binding_id is not None and (role or user or project):
        raise click.UsageError("give either ROLE USER [--project] or --id, not both")
    if binding_id is None and not (role and user):
        raise click.UsageError("give ROLE and USER, or --id")
    with open_platform() as p:
        manager = BindingManager(p)
        if binding_id is not None:
            manager.get(binding_id).delete()
            click.echo(f"removed binding {binding_id}")
            return
        manager.remove(user or "", role or "", project)
    click.echo(f"revoked {role} from {user} {'in ' + project if project else 'globally'}")


# -- delegations ----------------------------------------------------------------------------
@click.command()
@click.argument("permission", type=_PERMISSION)
@click.argument("grantee")
@click.option("--project", help="Delegate in this project only (owner/name or id).")
@click.option(
    "--until", "until_text", metavar="ISO8601", help="End time with a zone: 2026-05-01T18:00Z."
)
@click.option("--for", "duration", metavar="DURATION", help="End after 90m, 2h, 7d, 1w2d …")
@click.option("--reason", default="", help="Why (kept in the delegation and the audit log).")
@json_option
def delegate(
    permission: str,
    grantee: str,
    project: str | None,
    until_text: str | None,
    duration: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Lend PERMISSION (one you hold through your roles) to GRANTEE, a user or an agent."""
    if until_text and duration:
        raise click.UsageError("give either --until or --for, not both")
    until: datetime | timedelta | None = None
    try:
        if until_text:
            until = datetime.fromisoformat(until_text)
        elif duration:
            until = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--until/--for") from None
    with open_platform() as p:
        made = DelegationManager(p).create(grantee, permission, project, until, reason)
        record = made.to_dict()
    emit(record if as_json else _delegation_row(record), as_json=as_json)


@click.command()
@click.argument("delegation_id", metavar="ID", type=click.UUID)
@json_option
def undelegate(delegation_id: uuid.UUID, as_json: bool) -> None:
    """Revoke the delegation ID, at once (grantor or admin)."""
    with open_platform() as p:
        record = DelegationManager(p).get(delegation_id).revoke().to_dict()
    emit(record if as_json else _delegation_row(record), as_json=as_json)


@click.command()
@click.option("--grantor", help="Only delegations from this user.")
@click.option("--grantee", help="Only delegations to this user or agent.")
@click.option("--project", help="Only delegations in this project (owner/name or id).")
@click.option(
    "--active/--inactive", default=None, help="Only working ones / only revoked or expired ones."
)
@json_option
def delegations(
    grantor: str | None,
    grantee: str | None,
    project: str | None,
    active: bool | None,
    as_json: bool,
) -> None:
    """List delegations you grant or receive (admins: all), newest first."""
    with open_platform() as p:
        listing = DelegationManager(p).list(
            grantor=grantor, grantee=grantee, project=project, active=active
        )
        rows = [d.to_dict() for d in listing]
    emit(rows if as_json else [_delegation_row(d) for d in rows], as_json=as_json)
