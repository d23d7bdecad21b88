"""``platform observe …``: SQL over telemetry, log search, a trace, and the live tail.

``sql`` prints a table (default), CSV or JSON; ``tail`` follows log records until Ctrl-C.
Alert rules have their own group: ``platform alerts …``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from platform_sdk.clikit import emit
from platform_sdk.identity.cli_common import open_platform

__all__ = ["observe"]


def _print(frame: Any, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso"))
    elif frame.empty:
        click.echo("(no rows)")
    else:
        emit(json.loads(frame.to_json(orient="records", date_format="iso")), as_json=False)


@click.group()
def observe() -> None:
    """Query telemetry: SQL, logs, traces, the live tail."""


@observe.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--max-rows", type=int, default=None, help="Cap the result (server maximum applies).")
def sql(query: str, fmt: str, max_rows: int | None) -> None:
    """Run one read-only SELECT over logs, spans, metrics and platform tables."""
    with open_platform() as p:
        frame = p.observe.sql(query, max_rows=max_rows)
    _print(frame, fmt)


@observe.command("logs")
@click.option("--project", help="owner/name")
@click.option("--session", help="Agent session id")
@click.option("--trace", help="Trace id (32 hex)")
@click.option("--level", help="Minimum severity: trace, debug, info, warn, error, fatal")
@click.option("-q", "query", help="Text in the body")
@click.option("--limit", default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def logs(
    project: str | None,
    session: str | None,
    trace: str | None,
    level: str | None,
    query: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search log records of the last hour, newest first."""
    with open_platform() as p:
        frame = p.observe.logs(
            project=project, session=session, trace=trace, level=level, q=query, limit=limit
        )
    columns = [c for c in ("timestamp", "severity", "service", "project", "body") if c in frame]
    _print(frame[columns] if fmt == "table" else frame, fmt)


@observe.command("trace")
@click.argument("trace_id")
def trace(trace_id: str) -> None:
    """Print a trace as an indented waterfall."""
    with open_platform() as p:
        found = p.observe.trace(trace_id)
    for _, row in found.waterfall().iterrows():
        indent = "  " * int(row["depth"])
        click.echo(
            f"{row['offset_ms']:>9.1f} ms {row['duration_ms']:>9.1f} ms  "
            f"{indent}{row['name']} [{row['service']}] {row['status'] or ''}"
        )


@observe.command("tail")
@click.option("--project", help="owner/name")
@click.option("--level", help="Minimum severity")
@click.option("-q", "query", help="Text in the body")
def tail(project: str | None, level: str | None, query: str | None) -> None:
    """Follow log records as they are ingested (Ctrl-C to stop)."""
    with open_platform() as p:
        try:
            for record in p.observe.tail(project=project, level=level, q=query):
                click.echo(
                    f"{record.get('timestamp')} {record.get('severity') or '-':5} "
                    f"[{record.get('project') or '-'}] {record.get('body')}"
                )
        except KeyboardInterrupt:
            pass
