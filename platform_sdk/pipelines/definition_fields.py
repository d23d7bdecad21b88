"""Checkers of the field kinds ``.platform.yaml`` uses in several places.

Each takes a YAML node and its key path, records every problem in a
:class:`~platform_sdk.pipelines.definition_yaml.Problems` and answers the checked value, or None
when the node cannot be used (the caller then leaves the field out and carries on, so one run of
the checker reports everything).
"""

from __future__ import annotations

import posixpath

from yaml.nodes import MappingNode, Node, SequenceNode

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.definition_values import (
    ENV_NAME_RULE,
    MAX_TIMEOUT_SECONDS,
    expression_errors,
    glob_error,
    parse_duration,
    valid_env_name,
)
from platform_sdk.pipelines.definition_yaml import Item, Problems, describe, is_null, join, suggest

__all__ = [
    "MAX_GLOBS",
    "check_choices",
    "check_duration",
    "check_env",
    "check_globs",
    "check_relative_path",
]

MAX_GLOBS = 100
"""Globs one key (``branch``, ``paths``, ``artifacts``…) may list."""


def check_env(node: Node, key: str, p: Problems) -> dict[str, str] | None:
    """An env mapping: variable names, scalar values (their source text), valid expressions."""
    if is_null(node):
        return {}
    if not isinstance(node, MappingNode):
        p.add(node, key, f"must be a mapping of variable names to values, not {describe(node)}")
        return None
    out: dict[str, str] = {}
    ok = True
    for name, knode, value in p.pairs(node, key):
        here = join(key, name)
        if not valid_env_name(name):
            p.add(knode, here, f"variable name {ENV_NAME_RULE}")
            ok = False
            continue
        if isinstance(value, MappingNode | SequenceNode):
            p.add(value, here, f"must be a string, number or boolean, not {describe(value)}")
            ok = False
            continue
        text = p.text(value, here)
        if text is None:
            ok = False
            continue
        for problem in expression_errors(text):
            p.add(value, here, problem)
            ok = False
        out[name] = text
    return out if ok else None


def check_duration(node: Node, key: str, p: Problems) -> int | None:
    """A timeout: ``30s``, ``10m``, ``1h30m`` or seconds, more than 0 and at most 24h."""
    text = p.text(node, key)
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValidationFailed as exc:
        p.add(node, key, exc.message)
        return None
    if seconds <= 0:
        p.add(node, key, f'"{text}" must be longer than 0s')
        return None
    if seconds > MAX_TIMEOUT_SECONDS:
        p.add(node, key, f'"{text}" is longer than the limit of 24h')
        return None
    return seconds


def check_globs(
    node: Node, key: str, p: Problems, *, paths: bool = False
) -> tuple[str, ...] | None:
    """A non-empty list of at most :data:`MAX_GLOBS` globs (one string counts as a list of one).

    ``paths`` also requires each glob to stay inside the workspace (relative, no ``..``).
    """
    items = p.scalars(node, key)
    if items is None:
        return None
    if not items:
        p.add(node, key, "must not be empty (leave the key out to match anything)")
        return None
    if len(items) > MAX_GLOBS:
        p.add(node, key, f"has {len(items)} globs; the limit is {MAX_GLOBS}")
        return None
    ok = True
    for text, item, here in items:
        problem = glob_error(text)
        if problem is None and paths:
            problem = _path_problem(text)
        if problem is not None:
            p.add(item, here, problem)
            ok = False
    return tuple(t for t, _, _ in items) if ok else None


def _path_problem(text: str) -> str | None:
    if text.startswith("/") or posixpath.isabs(text):
        return f"{text!r} must be relative to the workspace"
    if ".." in text.split("/"):
        return f"{text!r} must not leave the workspace (no '..')"
    return None


def check_relative_path(node: Node, key: str, p: Problems) -> str | None:
    """A path inside the workspace (``context``, ``dockerfile``)."""
    text = p.text(node, key, strict=True)
    if text is None:
        return None
    problem = "must not be empty" if not text.strip() else _path_problem(text)
    if problem is not None:
        p.add(node, key, problem)
        return None
    return text


def check_choices(
    node: Node, key: str, p: Problems, allowed: tuple[str, ...]
) -> tuple[str, ...] | None:
    """A non-empty list of names out of ``allowed`` (one name counts as a list of one)."""
    items: list[Item] | None = p.scalars(node, key, strict=True)
    if items is None:
        return None
    if not items:
        p.add(node, key, "must not be empty (leave the key out to match anything)")
        return None
    if len(items) > MAX_GLOBS:
        p.add(node, key, f"has {len(items)} globs; the limit is {MAX_GLOBS}")
        return None
    ok = True
    for text, item, here in items:
        if text not in allowed:
            p.add(item, here, f"unknown value {text!r}" + suggest(text, allowed))
            ok = False
    return tuple(t for t, _, _ in items) if ok else None
