"""``platform secrets …``: set, list, rm and rotate-key over the SDK.

Values are read from stdin (``--value-stdin``, or whenever stdin is not a terminal) or from a
hidden prompt; ``--value V`` works but warns, because the value then lands in the shell history
and the process list. No verb ever prints a value: ``list`` and ``set`` show metadata only.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from platform_sdk.clikit import PlatformGroup, emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.secrets.models import SecretScope
from platform_sdk.secrets.sdk import Secret, SecretManager

__all__ = ["secrets"]

_project = click.option(
    "--project",
    "-p",
    default=None,
    metavar="REF",
    help="owner/name (or UUID) of the project; omit for a global secret.",
)


def _row(secret: Secret, as_json: bool) -> dict[str, Any]:
    data = secret.to_dict()  # metadata only: SecretOut has no value field
    return {
        "name": data["name"],
        "project": data["project"] if as_json else data["project"] or "(global)",
        "scope": data["scope"],
        "version": data["version"],
        "versions": data["versions"],
        "created_by": data["created_by"],
        "created_at": data["created_at"],
    }


def _read_value(value: str | None, value_stdin: bool) -> str:
    if value is not None:
        if value_stdin:
            raise click.UsageError("give either --value or --value-stdin, not both")
        click.echo(
            "warning: --value puts the secret in your shell history and the process list; "
            "prefer --value-stdin or the prompt",
            err=True,
        )
        return value
    stream = sys.stdin
    if value_stdin or not stream.isatty():
        text = stream.read()
        # `echo x | …` and here-docs add one newline that is not part of the value
        return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    entered: str = click.prompt("Value", hide_input=True, confirmation_prompt=True)
    return entered


@click.group(cls=PlatformGroup)
def secrets() -> None:
    """Encrypted secrets for pipelines, agents and deploys (values are never printed)."""


@secrets.command("set")
@click.argument("name")
@_project
@click.option(
    "--scope",
    type=click.Choice([s.value for s in SecretScope]),
    default=SecretScope.ALL.value,
    show_default=True,
    help="Which runtimes may resolve it.",
)
@click.option("--value-stdin", is_flag=True, help="Read the value from stdin.")
@click.option("--value", default=None, help="The value (lands in shell history; avoid).")
@json_option
def set_(
    name: str,
    project: str | None,
    scope: str,
    value_stdin: bool,
    value: str | None,
    as_json: bool,
) -> None:
    """Store a new version of secret NAME (read from stdin or a hidden prompt)."""
    secret_value = _read_value(value, value_stdin)
    with open_platform() as plat:
        out = SecretManager(plat, project=project).set(name, secret_value, scope=scope)
    emit(_row(out, as_json), as_json=as_json)


@secrets.command("list")
@_project
@json_option
def list_(project: str | None, as_json: bool) -> None:
    """List secrets with their scope and version (never their values)."""
    with open_platform() as plat:
        rows = [_row(s, as_json) for s in SecretManager(plat, project=project).list()]
    emit(rows, as_json=as_json)


@secrets.command("rm")
@click.argument("name")
@_project
def rm(name: str, project: str | None) -> None:
    """Delete every version of secret NAME."""
    with open_platform() as plat:
        SecretManager(plat, project=project).delete(name)
    where = f"project {project}" if project else "global"
    click.echo(f"deleted {name} ({where})")


@secrets.command("rotate-key")
@json_option
def rotate_key(as_json: bool) -> None:
    """Re-encrypt every secret under a new master key (embedded) or PLATFORM_MASTER_KEY.

    With PLATFORM_MASTER_KEY set, keep the old key in PLATFORM_MASTER_KEY_PREVIOUS until this
    has run; the keys it reports as retired may then be removed.
    """
    with open_platform() as plat:
        result = SecretManager(plat).rotate_key(progress=not as_json)
    record = result.model_dump(mode="json")
    emit(record, as_json=as_json)
    if result.damaged and not as_json:
        click.echo(
            f"warning: {len(result.damaged)} row(s) failed authentication and keep their old key",
            err=True,
        )
