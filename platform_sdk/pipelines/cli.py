"""``platform pipelines …``: run, list, show, logs [--follow], cancel, lint — over the SDK.

``run`` and ``logs --follow`` on an embedded platform (no server running the steps) drive a
worker in this process until the run ends, so ``platform pipelines run alice/app --wait``
works on a laptop with nothing else started.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from platform_sdk.clikit import emit, json_option
from platform_sdk.errors import ValidationFailed
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.pipelines.definition import lint_file
from platform_sdk.pipelines.schemas import RunStatus
from platform_sdk.pipelines.sdk import RunManager

__all__ = ["pipelines"]

_COLUMNS = ("number", "status", "trigger", "ref", "commit", "triggered_by", "duration")


def _row(data: dict[str, object]) -> dict[str, object]:
    out = {k: data.get(k) for k in _COLUMNS}
    out["commit"] = str(data.get("commit_sha", ""))[:10]
    return out


@click.group()
def pipelines() -> None:
    """Run CI pipelines and read their logs."""


@pipelines.command("run")
@click.argument("project")
@click.option("--ref", help="Branch, tag or commit (default: the default branch).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter.")
@click.option("--wait/--no-wait", default=False, help="Follow the run to its end.")
@json_option
def run(project: str, ref: str | None, params: tuple[str, ...], wait: bool, as_json: bool) -> None:
    """Start a manual run of PROJECT (owner/name)."""
    parameters = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        parameters[key] = value
    with open_platform() as p:
        started = RunManager(p, project).trigger(ref, parameters)
        if wait:
            started.wait(progress=not as_json)
        data = started.to_dict()
    emit(data if as_json else _row(data), as_json=as_json)
    if wait and data["status"] != RunStatus.SUCCESS.value:
        sys.exit(1)


@pipelines.command("list")
@click.argument("project")
@click.option("--status", type=click.Choice([s.value for s in RunStatus]))
@click.option("--ref", help="Only runs of this branch or tag.")
@click.option("--limit", default=20, show_default=True, help="How many runs.")
@json_option
def list_(project: str, status: str | None, ref: str | None, limit: int, as_json: bool) -> None:
    """List runs of PROJECT, newest first."""
    with open_platform() as p:
        rows = []
        for found in RunManager(p, project).list(status=status, ref=ref):
            rows.append(found.to_dict())
            if len(rows) >= limit:
                break
    emit(rows if as_json else [_row(r) for r in rows], as_json=as_json)


@pipelines.command("show")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def show(project: str, number: int, as_json: bool) -> None:
    """Show run NUMBER of PROJECT with its steps."""
    with open_platform() as p:
        data = RunManager(p, project).get(number).to_dict()
    if as_json:
        emit(data, as_json=True)
        return
    emit(_row(data), as_json=False)
    if data.get("error"):
        click.echo(f"error: {data['error']}")
    steps = data.get("steps") or []
    assert isinstance(steps, list)
    emit(
        [
            {
                "step": s["name"],
                "status": s["status"],
                "attempt": s["attempt"],
                "exit_code": s["exit_code"],
                "needs": ",".join(s["depends_on"]),
            }
            for s in steps
        ],
        as_json=False,
    )


@pipelines.command("logs")
@click.argument("project")
@click.argument("number", type=int)
@click.option("--step", help="Only this step.")
@click.option("--follow", "-f", is_flag=True, help="Stream until the run ends.")
def logs(project: str, number: int, step: str | None, follow: bool) -> None:
    """Print the logs of run NUMBER (each line prefixed with its step)."""
    with open_platform() as p:
        found = RunManager(p, project).get(number)
        if not follow:
            for name, s in found.steps.items():
                if step is not None and name != step:
                    continue
                for line in s.logs().splitlines():
                    click.echo(f"[{name}] {line}")
            return
        if p.settings.pipeline_max_parallel > 0 and not found.finished:
            import threading

            threading.Thread(target=found.wait, daemon=True).start()
        status = "?"
        for event in found.stream(step=step):
            if event.kind == "log":
                for line in str(event.data["text"]).splitlines():
                    click.echo(f"[{event.data['step']}] {line}")
            elif event.kind == "status" and "step" in event.data:
                click.echo(f"--- {event.data['step']}: {event.data['status']}", err=True)
            elif event.kind == "end":
                status = str(event.data["run"])
                click.echo(f"--- pipeline #{number}: {status}", err=True)
    if status != RunStatus.SUCCESS.value:
        sys.exit(1)


@pipelines.command("cancel")
@click.argument("project")
@click.argument("number", type=int)
@json_option
def cancel(project: str, number: int, as_json: bool) -> None:
    """Cancel run NUMBER of PROJECT."""
    with open_platform() as p:
        data = RunManager(p, project).get(number).cancel().to_dict()
    emit(data if as_json else _row(data), as_json=as_json)


@pipelines.command("lint")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), default=".platform.yaml")
def lint(file: Path) -> None:
    """Check a pipeline definition FILE without running it (exit 1 with every problem)."""
    try:
        definition = lint_file(file)
    except ValidationFailed as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    names = ", ".join(s.name for s in definition.steps)
    click.echo(f"{file}: ok ({len(definition.steps)} steps: {names})")
