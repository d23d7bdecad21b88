"""Shared pieces of the ``platform`` CLI that every capability's verbs use.

- :class:`PlatformGroup` turns any :class:`~platform_sdk.errors.PlatformError` into
  ``error[code]: message`` on stderr and exit status 1 (2 for bad configuration), instead of a
  traceback.
- :func:`json_option` and :func:`emit` give every verb that prints records a ``--json`` mode.
- :func:`get_settings` reads the settings once per invocation, with ``--data-dir`` applied.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import click

from platform_sdk.config import Settings, load_settings
from platform_sdk.errors import ConfigError, PlatformError

__all__ = ["PlatformGroup", "emit", "get_settings", "json_option"]

F = TypeVar("F", bound=Callable[..., Any])


class PlatformGroup(click.Group):
    """A click group whose commands report platform errors in one format."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"error[{exc.code}]: {exc.message}", err=True)
            ctx.exit(2)
        except PlatformError as exc:
            click.echo(f"error[{exc.code}]: {exc.message}", err=True)
            ctx.exit(1)


def json_option(fn: F) -> F:
    """Add ``--json``: print records as JSON instead of aligned text."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def get_settings(ctx: click.Context | None = None) -> Settings:
    """The settings of this invocation (argument > environment > .env > default)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    cached = root.obj.get("settings")
    if cached is None:
        cached = load_settings(data_dir=root.obj.get("data_dir"))
        root.obj["settings"] = cached
    assert isinstance(cached, Settings)
    return cached


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def emit(records: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, as_json: bool) -> None:
    """Print one record (a mapping) as ``key: value`` lines, or many as a table; or JSON."""
    if as_json:
        data = dict(records) if isinstance(records, Mapping) else [dict(r) for r in records]
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    if isinstance(records, Mapping):
        width = max((len(k) for k in records), default=0)
        for key, value in records.items():
            click.echo(f"{key.ljust(width)}  {_text(value)}")
        return
    rows = [dict(r) for r in records]
    if not rows:
        click.echo("(none)")
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(_text(r.get(c))) for r in rows)) for c in cols}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        click.echo("  ".join(_text(r.get(c)).ljust(widths[c]) for c in cols).rstrip())
