"""``platform db …``: schema migrations (Alembic) of the configured database."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from platform_sdk.clikit import emit, get_settings, json_option
from platform_sdk.core import migrate
from platform_sdk.core.db import make_engine
from platform_sdk.models import metadata

__all__ = ["db"]


def _engine() -> Engine:
    return make_engine(get_settings().resolved_database_url)


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@click.group()
def db() -> None:
    """Migrate, revert, create and check the database schema."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head, the newest)."""
    engine = _engine()
    migrate.upgrade(engine, revision)
    click.echo(f"{_where(engine)}: {migrate.schema_state(engine).describe()}")


@db.command()
@click.argument("revision", default="-1")
def revert(revision: str) -> None:
    """Revert migrations down to REVISION (default: -1, one step; `base` reverts everything)."""
    engine = _engine()
    migrate.downgrade(engine, revision)
    click.echo(f"{_where(engine)}: {migrate.schema_state(engine).describe()}")


@db.command()
@click.argument("name")
@click.option("--empty", is_flag=True, help="Write an empty script instead of autogenerating.")
def new(name: str, empty: bool) -> None:
    """Write a new migration NAME from the difference between the models and the database.

    The database must be at the newest migration first (`platform db upgrade`).
    """
    engine = _engine()
    if not empty:
        migrate.ensure_current(engine)
    path = migrate.new_revision(engine, name, autogenerate=not empty)
    click.echo(f"wrote {path}")


@db.command()
@json_option
def check(as_json: bool) -> None:
    """Fail (exit 1) when the models and the migrations differ."""
    engine = _engine()
    diffs = [str(d) for d in migrate.check_drift(engine, metadata)]
    if as_json:
        emit({"database": _where(engine), "in_sync": not diffs, "differences": diffs}, as_json=True)
    elif diffs:
        click.echo(f"{_where(engine)}: the models differ from the migrations:", err=True)
        for d in diffs:
            click.echo(f"  {d}", err=True)
        click.echo("write a migration with `platform db new NAME`", err=True)
    else:
        click.echo(f"{_where(engine)}: models and migrations agree")
    if diffs:
        raise SystemExit(1)


@db.command()
@json_option
def current(as_json: bool) -> None:
    """Show the applied revision and the newest one."""
    engine = _engine()
    state = migrate.schema_state(engine)
    emit(
        {
            "database": _where(engine),
            "current": list(state.current),
            "head": list(state.heads),
            "up_to_date": state.is_current,
        },
        as_json=as_json,
    )


@db.command()
@json_option
def history(as_json: bool) -> None:
    """List the migration scripts, newest first."""
    emit(migrate.history(), as_json=as_json)
