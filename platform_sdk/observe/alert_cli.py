"""``platform alerts …``: alert rules and their events, over the SDK.

::

    platform alerts rules create slow --project alice/shop --metric http.duration \\
        --agg avg --label route=/checkout --threshold 800 --for 5m
    platform alerts rules create errors --project alice/shop --kind log --level error \
        --threshold 10
    platform alerts rules list [--project P] ; show RULE ; update RULE --threshold 900 ; rm RULE
    platform alerts events [--project P] [--rule RULE] [--state firing]
    platform alerts evaluate          # evaluate due rules now (no server running)

RULE is a rule's id, or its name with ``--project`` (without it: a global rule). Durations
(``--window``, ``--for``, ``--interval``) take seconds or ``30s``, ``5m``, ``2h``, ``1d``.
"""

from __future__ import annotations

import re
from typing import Any

import click

from platform_sdk.clikit import PlatformGroup, emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.observe.alert_schemas import Aggregation, AlertKind, Comparator, Severity
from platform_sdk.observe.alert_sdk import AlertRuleManager
from platform_sdk.observe.models import AlertState

__all__ = ["alerts"]

_RULE_COLUMNS = ("id", "project", "name", "kind", "comparator", "threshold", "state", "enabled")
_EVENT_COLUMNS = ("id", "project", "rule", "severity", "state", "value", "started_at", "fired_at")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType[int]):
    """Seconds, or a number with ``s``/``m``/``h``/``d``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(value))
        if match is None:
            self.fail(f"{value!r} is not a duration (e.g. 300, 30s, 5m, 2h, 1d)", param, ctx)
        return int(match[1]) * _UNITS[match[2] or "s"]


DURATION = Duration()


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r}: write KEY=VALUE", param_hint="--label")
        out[key.strip()] = value
    return out


def _rule_options(fn: Any) -> Any:
    options = [
        click.option("--description", help="What the rule is about."),
        click.option("--kind", type=click.Choice([k.value for k in AlertKind])),
        click.option("--metric", help="Metric name (metric rules)."),
        click.option("--agg", type=click.Choice([a.value for a in Aggregation])),
        click.option("--label", "labels", multiple=True, help="KEY=VALUE point label (repeat)."),
        click.option("--level", help="Log severity, case-insensitive (log rules)."),
        click.option("--q", "q", help="Text in the log body (log rules)."),
        click.option("--service", help="Only this service."),
        click.option("--query", help="A SELECT whose first value is compared (sql rules)."),
        click.option("--window", type=DURATION, help="Time window (default 5m; sql 1h)."),
        click.option("--comparator", type=click.Choice([c.value for c in Comparator])),
        click.option("--threshold", type=float),
        click.option("--for", "for_", type=DURATION, help="How long before firing."),
        click.option("--interval", type=DURATION, help="Evaluate every … (default 60 s)."),
        click.option("--severity", type=click.Choice([s.value for s in Severity])),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _fields(**given: Any) -> dict[str, Any]:
    labels = given.pop("labels", ())
    fields = {k: v for k, v in given.items() if v is not None}
    if "interval" in fields:
        fields["interval_seconds"] = fields.pop("interval")
    if labels:
        fields["labels"] = _labels(labels)
    return fields


@click.group(cls=PlatformGroup)
def alerts() -> None:
    """Alert rules over metrics, logs or SQL, and the events they raise."""


@alerts.group(cls=PlatformGroup)
def rules() -> None:
    """Create, list, change and remove alert rules."""


@rules.command("list")
@click.option("--project", help="Only this project's rules (owner/name).")
@json_option
def list_(project: str | None, as_json: bool) -> None:
    """List the rules you may read, by name."""
    with open_platform() as p:
        rows = [r.to_dict() for r in AlertRuleManager(p).list(project=project)]
    emit(rows if as_json else [{k: r[k] for k in _RULE_COLUMNS} for r in rows], as_json=as_json)


@rules.command("create")
@click.argument("name")
@click.option("--project", help="owner/name; omit for a global rule.")
@_rule_options
@click.option("--disabled", is_flag=True, help="Create it switched off.")
@json_option
def create(name: str, project: str | None, disabled: bool, as_json: bool, **given: Any) -> None:
    """Create rule NAME (the kind follows from --metric / --query, or say --kind log)."""
    fields = _fields(**given)
    if disabled:
        fields["enabled"] = False
    with open_platform() as p:
        rule = AlertRuleManager(p).create(name, project=project, **fields)
    emit(rule.to_dict(), as_json=as_json)


@rules.command("show")
@click.argument("rule")
@click.option("--project", help="The rule's project, when RULE is a name.")
@json_option
def show(rule: str, project: str | None, as_json: bool) -> None:
    """Show RULE with its generated query and latest events."""
    with open_platform() as p:
        found = AlertRuleManager(p).get(rule, project=project)
        record = found.to_dict()
        events: list[Any] = []
        for event in found.events():
            events.append(event.to_dict())
            if len(events) == 10:
                break
    record["events"] = (
        events
        if as_json
        else [f"{e['state']} {e['started_at']} value={e['value']}" for e in events]
    )
    emit(record, as_json=as_json)


@rules.command("update")
@click.argument("rule")
@click.option("--project", help="The rule's project, when RULE is a name.")
@click.option("--name", "new_name", help="Rename the rule.")
@_rule_options
@click.option("--enable/--disable", "enabled", default=None, help="Switch the rule on or off.")
@click.option(
    "--clear",
    multiple=True,
    type=click.Choice(["labels", "level", "q", "service"]),
    help="Remove this filter (repeat).",
)
@json_option
def update(
    rule: str,
    project: str | None,
    new_name: str | None,
    enabled: bool | None,
    clear: tuple[str, ...],
    as_json: bool,
    **given: Any,
) -> None:
    """Change the options given on RULE."""
    fields = _fields(name=new_name, enabled=enabled, **given)
    fields.update(dict.fromkeys(clear))
    with open_platform() as p:
        found = AlertRuleManager(p).get(rule, project=project)
        emit(found.update(**fields).to_dict(), as_json=as_json)


@rules.command("rm")
@click.argument("rule")
@click.option("--project", help="The rule's project, when RULE is a name.")
def rm(rule: str, project: str | None) -> None:
    """Delete RULE and its events."""
    with open_platform() as p:
        AlertRuleManager(p).delete(rule, project=project)
    click.echo(f"deleted {rule}")


@alerts.command("events")
@click.option("--project", help="Only this project's events (owner/name).")
@click.option("--rule", help="Only this rule's events (id, or name with --project).")
@click.option("--state", type=click.Choice([s.value for s in AlertState]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def events(
    project: str | None, rule: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """List alert events, newest first."""
    with open_platform() as p:
        manager = AlertRuleManager(p)
        if rule is not None:
            found = manager.get(rule, project=project)
            listing = found.events(state=state)
        else:
            listing = manager.events.list(project=project, state=state)
        rows = []
        for event in listing:
            rows.append(event.to_dict())
            if len(rows) >= limit:
                break
    emit(rows if as_json else [{k: r[k] for k in _EVENT_COLUMNS} for r in rows], as_json=as_json)


@alerts.command("evaluate")
@json_option
def evaluate(as_json: bool) -> None:
    """Evaluate the rules that are due now, in this process."""
    with open_platform() as p:
        count = AlertRuleManager(p).evaluate()
    emit({"evaluated": count}, as_json=as_json)
