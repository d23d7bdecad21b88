"""The ``platform`` command: init, serve, status, config, version, and each capability's verbs."""

from __future__ import annotations

import click

from platform_sdk.__about__ import __version__
from platform_sdk.cli.db import db
from platform_sdk.clikit import PlatformGroup, emit, get_settings, json_option
from platform_sdk.core import migrate
from platform_sdk.core.extras import missing_extra
from platform_sdk.core.logsetup import configure_logging
from platform_sdk.errors import ConfigError
from platform_sdk.git.mr_cli import mr
from platform_sdk.identity.cli.audit import audit
from platform_sdk.identity.cli.roles import delegate, delegations, grant, revoke, roles, undelegate
from platform_sdk.identity.cli.tokens import tokens
from platform_sdk.identity.cli.users import users
from platform_sdk.notify.cli import notifications, webhooks
from platform_sdk.observe.alert_cli import alerts
from platform_sdk.observe.cli import observe
from platform_sdk.pipelines.cli import pipelines
from platform_sdk.projects.cli import projects
from platform_sdk.projects.issue_cli import issues
from platform_sdk.sdk import Platform
from platform_sdk.secrets.cli import secrets

__all__ = ["main"]


@click.group(cls=PlatformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data directory (overrides PLATFORM_DATA_DIR; default ./.platform).",
)
@click.option(
    "--as",
    "as_user",
    default=None,
    metavar="USER",
    help="Act as USER, with that user's permissions (default: the data dir's admin).",
)
@click.version_option(__version__, prog_name="platform")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, as_user: str | None) -> None:
    """Platform: git hosting, CI, deploys, agents, observability and secrets in one package.

    Settings come from arguments, then the environment, then a .env file, then defaults
    (see .env.example). `platform init` then `platform serve` runs it on embedded defaults.
    """
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir
    ctx.obj["as_user"] = as_user


@main.command()
@json_option
def version(as_json: bool) -> None:
    """Print the platform version."""
    emit({"version": __version__}, as_json=as_json)


@main.command()
@json_option
def config(as_json: bool) -> None:
    """Print the resolved settings (secrets masked)."""
    settings = get_settings()
    record = settings.redacted()
    record["resolved_database_url"] = record["database_url"] or settings.resolved_database_url
    emit(record, as_json=as_json)


@main.command()
@click.option(
    "--admin",
    "admin_username",
    default="admin",
    show_default=True,
    help="User name of the first admin.",
)
@click.option("--email", "admin_email", default=None, help="E-mail of the first admin.")
@click.option(
    "--if-needed",
    is_flag=True,
    help="Only migrate when the platform is already initialised (no error).",
)
@json_option
def init(admin_username: str, admin_email: str | None, if_needed: bool, as_json: bool) -> None:
    """Create the data dir, migrate the schema, bootstrap roles and the first admin.

    The admin's password is printed once and never stored in clear.
    """
    settings = get_settings()
    with Platform(settings) as plat:
        creds = plat.initialise(admin_username=admin_username, admin_email=admin_email)
        state = migrate.schema_state(plat.engine)
        record: dict[str, object] = {
            "data_dir": str(settings.data_dir.resolve()),
            "database": plat.engine.url.render_as_string(hide_password=True),
            "schema": ", ".join(state.current),
            "initialised": creds is not None,
        }
    if creds is None:
        if not if_needed:
            emit(record, as_json=as_json)
            click.echo(
                "already initialised; the admin's credentials were shown the first "
                "time (use --if-needed to make this a quiet no-op)",
                err=True,
            )
            raise SystemExit(1)
        if not as_json:
            click.echo(f"already initialised: {record['data_dir']} (schema {record['schema']})")
            return
    else:
        record["admin_username"] = creds.username
        record["admin_password"] = creds.password
    emit(record, as_json=as_json)
    if creds is not None and not as_json:
        click.echo("\nKeep the admin password now: it is shown only once.", err=True)


@main.command()
@click.option("--listen", default=None, help="HOST:PORT (overrides PLATFORM_LISTEN).")
def serve(listen: str | None) -> None:
    """Run the server (REST API, health checks) on PLATFORM_LISTEN.

    Refuses to start when the schema is outdated, naming the command that fixes it.
    """
    import uvicorn

    from platform_sdk.config import load_settings
    from platform_sdk.server.app import check_schema_at_start, create_app

    settings = get_settings()
    if listen is not None:
        try:
            settings = load_settings(**{**settings.model_dump(), "listen": listen})
        except ConfigError as exc:
            raise ConfigError("--listen", exc.message.partition(": ")[2]) from None
    configure_logging(settings.log_settings)
    plat = Platform(settings)
    try:
        check_schema_at_start(plat)
        uvicorn.run(
            create_app(plat),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(settings.shutdown_timeout),
            proxy_headers=True,
        )
    finally:
        plat.close()


@main.command()
@click.option("--port", default=5006, show_default=True, help="Port to serve on.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--show/--no-show", default=False, help="Open a browser tab.")
@click.pass_context
def dashboards(ctx: click.Context, port: int, address: str, show: bool) -> None:
    """Serve the Panel dashboards alone (observe, pipelines, projects, admin).

    They act as --as USER (default: the data dir's admin); `platform serve` also serves them
    under /dashboards with login.
    """
    try:
        from platform_sdk.dashboards.serving import serve_standalone
    except ImportError as exc:
        raise missing_extra("workbench", "the dashboards", exc) from None

    settings = get_settings()
    configure_logging(settings.log_settings)
    with Platform(settings, user=ctx.find_root().obj.get("as_user")) as plat:
        click.echo(f"dashboards on http://{address}:{port}/ (observe, pipelines, projects, admin)")
        serve_standalone(plat, port=port, address=address, show=show)


@main.command()
@json_option
def status(as_json: bool) -> None:
    """Check that the database, object store and bus answer; exit 1 if one does not."""
    settings = get_settings()
    with Platform(settings) as plat:
        readiness = plat.readiness()
        info = plat.describe()
    if as_json:
        emit({**info, **readiness.to_dict()}, as_json=True)
    else:
        emit(info, as_json=False)
        click.echo("")
        emit(
            [
                {"component": c.name, "ok": c.ok, "backend": c.backend, "detail": c.detail}
                for c in readiness.components
            ],
            as_json=False,
        )
    if not readiness.ok:
        raise SystemExit(1)


main.add_command(db)
for command in (
    users,
    tokens,
    roles,
    grant,
    revoke,
    delegate,
    undelegate,
    delegations,
    secrets,
    projects,
    issues,
    mr,
    pipelines,
    alerts,
    observe,
    webhooks,
    notifications,
    audit,
):
    main.add_command(command)
