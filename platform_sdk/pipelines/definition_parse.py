"""Checking the top of ``.platform.yaml`` — ``pipeline``, ``on``, ``env``, ``timeout`` — and
building the :class:`~platform_sdk.pipelines.definition_model.Definition`.

``on`` takes the full mapping of the spec, or as a shorthand one event name or a list of them
(``on: [push, merge_request]``), meaning each with no filter. ``schedule`` needs entries, so it
has no shorthand. A ``null`` section (``push:``) means the event with no filter.
"""

from __future__ import annotations

from datetime import UTC, datetime

import cronsim
from yaml.nodes import MappingNode, Node

from platform_sdk.pipelines.definition_fields import (
    check_choices,
    check_duration,
    check_env,
    check_globs,
)
from platform_sdk.pipelines.definition_model import DEFAULT_TIMEOUT_SECONDS, Definition
from platform_sdk.pipelines.definition_steps import check_steps
from platform_sdk.pipelines.definition_values import ENV_NAME_RULE, valid_env_name
from platform_sdk.pipelines.definition_yaml import Problems, describe, is_null, join
from platform_sdk.pipelines.triggers import MR_ACTIONS, Schedule, Triggers

__all__ = ["ON_KEYS", "PIPELINE_KEYS", "build_definition"]

PIPELINE_KEYS = ("on", "env", "timeout", "steps")
ON_KEYS = ("push", "merge_request", "tag", "schedule", "manual")


def build_definition(root: Node | None, p: Problems) -> Definition | None:
    """The definition in ``root``, or None when ``p`` has problems."""
    if root is None or is_null(root):
        p.add(1, "", "file is empty; expected a 'pipeline:' mapping with 'steps'")
        return None
    if not isinstance(root, MappingNode):
        p.add(root, "", f"the file must be a mapping with 'pipeline:', not {describe(root)}")
        return None
    top = p.mapping(root, "", ("pipeline",), ("pipeline",))
    if top is None or "pipeline" not in top:
        return None
    pipe = p.mapping(top["pipeline"], "pipeline", PIPELINE_KEYS, ("steps",))
    if pipe is None:
        return None
    on = pipe.get("on")
    triggers = _triggers(on, p) if on is not None and not is_null(on) else Triggers()
    env = check_env(pipe["env"], "pipeline.env", p) if "env" in pipe else {}
    timeout = (
        check_duration(pipe["timeout"], "pipeline.timeout", p)
        if "timeout" in pipe
        else DEFAULT_TIMEOUT_SECONDS
    )
    steps = check_steps(pipe["steps"], p) if "steps" in pipe else None
    if p.items or triggers is None or env is None or timeout is None or steps is None:
        return None
    return Definition(steps=steps, triggers=triggers, env=env, timeout_seconds=timeout)


def _triggers(node: Node, p: Problems) -> Triggers | None:
    key = "pipeline.on"
    if not isinstance(node, MappingNode):
        names = check_choices(node, key, p, ON_KEYS)
        if names is None:
            return None
        if "schedule" in names:
            p.add(
                node, key, "schedule needs entries: schedule: [{cron: '0 3 * * *', branch: main}]"
            )
            return None
        return Triggers(
            push="push" in names, tag="tag" in names, merge_request="merge_request" in names
        )
    m = p.mapping(node, key, ON_KEYS)
    if m is None:
        return None
    before = len(p.items)
    push_branches = _section(m, "push", "branches", p)
    tag_patterns = _section(m, "tag", "patterns", p)
    actions = None
    if "merge_request" in m:
        sub = _sub(m["merge_request"], f"{key}.merge_request", ("actions",), p)
        if sub and "actions" in sub:
            actions = check_choices(sub["actions"], f"{key}.merge_request.actions", p, MR_ACTIONS)
    schedules = _schedules(m["schedule"], p) if "schedule" in m else ()
    parameters: dict[str, str | None] = {}
    if "manual" in m:
        sub = _sub(m["manual"], f"{key}.manual", ("parameters",), p)
        if sub and "parameters" in sub:
            parameters = _parameters(sub["parameters"], p)
    if len(p.items) > before:
        return None
    return Triggers(
        push="push" in m,
        push_branches=push_branches,
        tag="tag" in m,
        tag_patterns=tag_patterns,
        merge_request="merge_request" in m,
        merge_request_actions=actions,
        schedules=schedules,
        manual_parameters=parameters,
    )


def _sub(node: Node, key: str, allowed: tuple[str, ...], p: Problems) -> dict[str, Node] | None:
    """A section's mapping; ``null`` is an empty one."""
    return {} if is_null(node) else p.mapping(node, key, allowed)


def _section(m: dict[str, Node], name: str, globs: str, p: Problems) -> tuple[str, ...] | None:
    if name not in m:
        return None
    key = f"pipeline.on.{name}"
    sub = _sub(m[name], key, (globs,), p)
    if not sub or globs not in sub:
        return None
    return check_globs(sub[globs], f"{key}.{globs}", p)


def _schedules(node: Node, p: Problems) -> tuple[Schedule, ...]:
    key = "pipeline.on.schedule"
    items = p.sequence(node, key)
    if not items:
        if items is not None:
            p.add(node, key, "must list at least one {cron, branch} entry")
        return ()
    out: list[Schedule] = []
    for i, item in enumerate(items):
        here = f"{key}[{i}]"
        m = p.mapping(item, here, ("cron", "branch"), ("cron", "branch"))
        if m is None or "cron" not in m or "branch" not in m:
            continue
        cron = p.text(m["cron"], f"{here}.cron", strict=True)
        branch = p.text(m["branch"], f"{here}.branch")
        if cron is not None and (problem := _cron_problem(cron)) is not None:
            p.add(m["cron"], f"{here}.cron", problem)
            cron = None
        if branch is not None and (not branch or any(c.isspace() for c in branch)):
            p.add(m["branch"], f"{here}.branch", f"{branch!r} is not a branch name")
            branch = None
        if cron is not None and branch is not None:
            out.append(Schedule(cron=" ".join(cron.split()), branch=branch))
    return tuple(out)


def _cron_problem(expr: str) -> str | None:
    fields = expr.split()
    if len(fields) != 5:
        return f'"{expr}" must have 5 fields: minute hour day-of-month month day-of-week'
    try:
        cronsim.CronSim(" ".join(fields), datetime.now(UTC))
    except cronsim.CronSimError as exc:
        return f'"{expr}" is not a valid cron expression: {exc}'
    return None


def _parameters(node: Node, p: Problems) -> dict[str, str | None]:
    key = "pipeline.on.manual.parameters"
    if not isinstance(node, MappingNode):
        p.add(node, key, f"must be a mapping of names to {{default: …}}, not {describe(node)}")
        return {}
    out: dict[str, str | None] = {}
    for name, knode, value in p.pairs(node, key):
        here = join(key, name)
        if not valid_env_name(name):
            p.add(knode, here, f"parameter name {ENV_NAME_RULE}")
            continue
        spec = _sub(value, here, ("default", "description"), p)
        if spec is None:
            continue
        if "description" in spec:
            p.text(spec["description"], f"{here}.description", strict=True)
        out[name] = p.text(spec["default"], f"{here}.default") if "default" in spec else None
    return out
