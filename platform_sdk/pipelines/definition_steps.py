"""Checking ``pipeline.steps``: each step's fields, then the dependency graph between them.

:func:`check_steps` checks every step on its own (:func:`_step`) and then, over all steps that
have a usable name — even steps with other problems, so one typo does not hide the rest —
rejects duplicate names, ``depends_on`` names that are no step (with a suggestion) and
dependency cycles, each cycle named once in the order it is walked (``a -> b -> a``) at the
line of its first edge. The walk is iterative: a long chain of steps cannot exhaust the stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from platform_sdk.pipelines.definition_fields import (
    check_choices,
    check_duration,
    check_env,
    check_globs,
    check_relative_path,
)
from platform_sdk.pipelines.definition_model import NETWORKS, STEP_TYPES, Network, StepDef, StepType
from platform_sdk.pipelines.definition_values import (
    ENV_NAME_RULE,
    STEP_NAME_RULE,
    secret_refs_in,
    valid_env_name,
    valid_step_name,
)
from platform_sdk.pipelines.definition_yaml import Problems, describe, is_null, join, suggest
from platform_sdk.pipelines.triggers import EVENTS, When

__all__ = ["MAX_JOBS", "MAX_MATRIX_JOBS", "MAX_RETRIES", "MAX_STEPS", "STEP_KEYS", "check_steps"]

MAX_MATRIX_JOBS = 64
MAX_STEPS = 200
"""Steps one pipeline may list (checked before any is parsed)."""
MAX_JOBS = 500
"""Jobs one run may expand to, matrices included: a push creates at most this many step rows."""
MAX_RETRIES = 10
IMAGE_BUILD_KEYS = ("context", "dockerfile", "destination")
STEP_KEYS = (
    "name",
    "image",
    "commands",
    "env",
    "depends_on",
    "when",
    "matrix",
    "timeout",
    "retries",
    "allow_failure",
    "artifacts",
    "type",
    "network",
    *IMAGE_BUILD_KEYS,
)
WHEN_KEYS = ("branch", "event", "path")


@dataclass
class _Seen:
    """What the graph checks need of one step, even when the step itself is unusable."""

    index: int
    name: str
    node: Node
    deps: list[tuple[str, Node]] = field(default_factory=list)


def check_steps(node: Node, p: Problems) -> tuple[StepDef, ...] | None:
    nodes = p.sequence(node, "pipeline.steps") if not is_null(node) else []
    if nodes is None:
        return None
    if not nodes:
        p.add(node, "pipeline.steps", "must list at least one step")
        return None
    if len(nodes) > MAX_STEPS:
        p.add(node, "pipeline.steps", f"lists {len(nodes)} steps; the limit is {MAX_STEPS}")
        return None
    steps: list[StepDef | None] = []
    seen: list[_Seen] = []
    for index, item in enumerate(nodes):
        step, info = _step(item, index, p)
        steps.append(step)
        if info is not None:
            seen.append(info)
    _check_graph(seen, p)
    if any(s is None for s in steps):
        return None
    done = tuple(s for s in steps if s is not None)
    jobs = sum(math.prod(len(v) for v in s.matrix.values()) for s in done)
    if jobs > MAX_JOBS:
        p.add(
            node,
            "pipeline.steps",
            f"expand to {jobs} jobs (matrices included); the limit per run is {MAX_JOBS}",
        )
        return None
    return done


def _step(node: Node, index: int, p: Problems) -> tuple[StepDef | None, _Seen | None]:
    key = f"pipeline.steps[{index}]"
    before = len(p.items)
    m = p.mapping(node, key, STEP_KEYS, ("name",))
    if m is None:
        return None, None
    info: _Seen | None = None
    name = p.text(m["name"], f"{key}.name") if "name" in m else None
    if name is not None and not valid_step_name(name):
        p.add(m["name"], f"{key}.name", f"{name!r} {STEP_NAME_RULE}")
    elif name is not None:
        info = _Seen(index, name, m["name"])
    if "depends_on" in m:
        deps = _depends_on(m["depends_on"], f"{key}.depends_on", p)
        if info is not None:
            info.deps = deps
    kind = _kind(m, key, p)
    commands = _commands(m, node, key, kind, p) if kind is not None else ()
    image = _image_ref(m["image"], f"{key}.image", p) if "image" in m else None
    destination = None
    if kind == "image_build":
        if "destination" not in m:
            p.add(node, key, "missing required key 'destination' (the image to push)")
        else:
            destination = _image_ref(m["destination"], f"{key}.destination", p)
    elif kind == "command":
        for extra in IMAGE_BUILD_KEYS:
            if extra in m:
                p.add(m[extra], join(key, extra), "is only allowed with type: image_build")
    retries = p.integer(m["retries"], f"{key}.retries") if "retries" in m else 0
    if retries is not None and not 0 <= retries <= MAX_RETRIES:
        p.add(m["retries"], f"{key}.retries", f"must be between 0 and {MAX_RETRIES}")
    allow = p.boolean(m["allow_failure"], f"{key}.allow_failure") if "allow_failure" in m else False
    env = check_env(m["env"], f"{key}.env", p) if "env" in m else {}
    when = _when(m["when"], f"{key}.when", p) if "when" in m else When()
    matrix = _matrix(m["matrix"], f"{key}.matrix", p) if "matrix" in m else {}
    timeout = check_duration(m["timeout"], f"{key}.timeout", p) if "timeout" in m else None
    artifacts = (
        check_globs(m["artifacts"], f"{key}.artifacts", p, paths=True) if "artifacts" in m else ()
    )
    ctx = check_relative_path(m["context"], f"{key}.context", p) if "context" in m else "."
    dockerfile = (
        check_relative_path(m["dockerfile"], f"{key}.dockerfile", p)
        if "dockerfile" in m
        else "Dockerfile"
    )
    network = _network(m["network"], f"{key}.network", p) if "network" in m else "default"
    if len(p.items) > before or info is None:
        return None, info
    assert kind is not None
    assert commands is not None
    assert retries is not None
    assert allow is not None
    assert env is not None
    assert when is not None
    assert matrix is not None
    assert artifacts is not None
    assert ctx is not None
    assert dockerfile is not None
    assert network is not None
    step = StepDef(
        name=info.name,
        image=image,
        commands=commands,
        env=env,
        depends_on=tuple(dict.fromkeys(d for d, _ in info.deps)),
        when=when,
        matrix=matrix,
        timeout_seconds=timeout,
        retries=retries,
        allow_failure=allow,
        artifacts=artifacts,
        type=kind,
        context=ctx,
        dockerfile=dockerfile,
        destination=destination,
        network=network,
    )
    return step, info


def _network(node: Node, key: str, p: Problems) -> Network | None:
    text = p.text(node, key, strict=True)
    if text is None:
        return None
    for choice in NETWORKS:
        if text == choice:
            return choice
    p.add(node, key, f"unknown network {text!r}" + suggest(text, NETWORKS))
    return None


def _kind(m: dict[str, Node], key: str, p: Problems) -> StepType | None:
    if "type" not in m:
        return "command"
    text = p.text(m["type"], f"{key}.type", strict=True)
    if text == "image_build":
        return "image_build"
    if text == "command":
        return "command"
    if text is not None:
        p.add(m["type"], f"{key}.type", f"unknown step type {text!r}" + suggest(text, STEP_TYPES))
    return None


def _commands(
    m: dict[str, Node], node: Node, key: str, kind: StepType, p: Problems
) -> tuple[str, ...] | None:
    if "commands" not in m:
        if kind == "command":
            p.add(node, key, "missing required key 'commands'")
            return None
        return ()
    here = f"{key}.commands"
    items = p.scalars(m["commands"], here)
    if items is None:
        return None
    if not items and kind == "command":
        p.add(m["commands"], here, "must list at least one command")
        return None
    ok = True
    for text, item, item_key in items:
        if "${{" in text:
            ref = secret_refs_in(text)
            hint = f" (e.g. env: {{{ref[0]}: ...}} and $" + ref[0] + ")" if ref else ""
            p.add(
                item,
                item_key,
                "expressions are not expanded in commands; pass secrets through env" + hint,
            )
            ok = False
        elif not text.strip():
            p.add(item, item_key, "command is empty")
            ok = False
    return tuple(t for t, _, _ in items) if ok else None


def _image_ref(node: Node, key: str, p: Problems) -> str | None:
    text = p.text(node, key, strict=True)
    if text is not None and (not text or any(c.isspace() for c in text)):
        p.add(node, key, f"{text!r} is not an image reference (e.g. python:3.12)")
        return None
    return text


def _depends_on(node: Node, key: str, p: Problems) -> list[tuple[str, Node]]:
    items = p.scalars(node, key) if not is_null(node) else []
    return [(text, item) for text, item, _ in items or []]


def _when(node: Node, key: str, p: Problems) -> When | None:
    m = p.mapping(node, key, WHEN_KEYS)
    if m is None:
        return None
    branch = check_globs(m["branch"], f"{key}.branch", p) if "branch" in m else None
    event = check_choices(m["event"], f"{key}.event", p, EVENTS) if "event" in m else None
    path = check_globs(m["path"], f"{key}.path", p) if "path" in m else None
    if any(k in m and v is None for k, v in (("branch", branch), ("event", event), ("path", path))):
        return None
    return When(branch=branch, event=event, path=path)


def _matrix(node: Node, key: str, p: Problems) -> dict[str, tuple[str, ...]] | None:
    if not isinstance(node, MappingNode) or not node.value:
        p.add(node, key, f"must be a mapping of axes to value lists, not {describe(node)}")
        return None
    out: dict[str, tuple[str, ...]] = {}
    ok = True
    for axis, knode, value in p.pairs(node, key):
        here = join(key, axis)
        if not valid_env_name(axis):
            p.add(knode, here, f"axis name {ENV_NAME_RULE}")
            ok = False
        values = _axis_values(value, here, p)
        if values is None:
            ok = False
        else:
            out[axis] = values
    jobs = math.prod(len(v) for v in out.values())
    if ok and jobs > MAX_MATRIX_JOBS:
        p.add(node, key, f"expands to {jobs} jobs; the limit is {MAX_MATRIX_JOBS}")
        ok = False
    return out if ok else None


def _axis_values(node: Node, key: str, p: Problems) -> tuple[str, ...] | None:
    if not isinstance(node, SequenceNode) or not node.value:
        shown = "" if isinstance(node, SequenceNode) else f", not {describe(node)}"
        p.add(node, key, "must be a non-empty list of values" + shown)
        return None
    values: list[str] = []
    for i, item in enumerate(node.value):
        if not isinstance(item, ScalarNode) or is_null(item):
            p.add(item, f"{key}[{i}]", f"must be a string, number or boolean, not {describe(item)}")
        elif "${{" in str(item.value):
            p.add(item, f"{key}[{i}]", "expressions are not expanded in matrix values")
        elif str(item.value) in values:
            p.add(item, f"{key}[{i}]", f"duplicate value {item.value!r}")
        else:
            values.append(str(item.value))
    return tuple(values) if len(values) == len(node.value) else None


def _check_graph(seen: list[_Seen], p: Problems) -> None:
    first: dict[str, _Seen] = {}
    for info in seen:
        if info.name in first:
            line = first[info.name].node.start_mark.line + 1
            p.add(
                info.node,
                f"pipeline.steps[{info.index}].name",
                f"duplicate step name {info.name!r} (first at line {line})",
            )
        else:
            first[info.name] = info
    graph: dict[str, list[str]] = {}
    for info in first.values():
        graph[info.name] = []
        for dep, dep_node in info.deps:
            if dep in first:
                graph[info.name].append(dep)
            else:
                hint = suggest(dep, tuple(first)) if 0 < len(first) <= 10 else ""
                key = f"pipeline.steps[{info.index}].depends_on"
                p.add(dep_node, key, f"unknown step {dep!r}" + hint)
    for cycle in _cycles(graph):
        info = first[cycle[0]]
        edge = next(n for d, n in info.deps if d == cycle[1])
        key = f"pipeline.steps[{info.index}].depends_on"
        shown = (
            cycle if len(cycle) <= 12 else [*cycle[:10], f"… ({len(cycle) - 11} more)", cycle[-1]]
        )
        p.add(edge, key, "dependency cycle: " + " -> ".join(shown))


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each distinct cycle once, as ``[a, b, …, a]``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []
    keys: set[frozenset[str]] = set()
    for root in graph:
        if root in state:
            continue
        path = [root]
        stack = [iter(graph[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = 2
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
            elif state[nxt] == 1:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in keys:
                    keys.add(frozenset(cycle))
                    found.append([*cycle, nxt])
    return found
