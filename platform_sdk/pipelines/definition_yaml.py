"""Loading ``.platform.yaml`` into YAML nodes that remember their line, and reporting problems.

The definition is checked on the *node* tree of :func:`yaml.compose` (SafeLoader), never on
constructed Python values, for three reasons:

- every node keeps ``start_mark.line``, so each problem names its line;
- keys keep their source text, so ``on:`` stays ``"on"`` (YAML 1.1 would make it ``True``) and
  env values keep theirs, so ``PY: 3.10`` is ``"3.10"`` rather than the float ``3.1``;
- nothing is expanded: aliases are refused outright (:class:`_Loader`), which rules out the
  "billion laughs" bomb, and nesting deeper than :data:`MAX_DEPTH` is refused before the
  recursive composer could exhaust the stack. Files over :data:`MAX_BYTES` are refused before
  parsing.

Problems are collected in a :class:`Problems` list rather than raised one by one, so a user sees
everything wrong with the file at once; :meth:`Problems.raise_if_any` turns them into one
:class:`DefinitionError` (a :class:`~platform_sdk.errors.ValidationFailed`) whose message has
one ``file:line: key: message`` line per problem and whose ``details["errors"]`` lists them as
dicts. The node helpers at the bottom (``mapping``, ``text`` …) record a problem and return
None for a node of the wrong shape, so the checker can keep going.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from platform_sdk.errors import ValidationFailed

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "DefinitionError",
    "Item",
    "Problem",
    "Problems",
    "load_nodes",
]

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_REPORTED = 100
_STD_TAG = "tag:yaml.org,2002:"

_PLAIN_TAGS = frozenset(
    _STD_TAG + kind for kind in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)

Item = tuple[str, Node, str]
"""A scalar of a list: its text, its node (for the line) and its key path."""


class DefinitionError(ValidationFailed):
    """A pipeline definition is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = problems[:MAX_REPORTED]
        lines = [p.render() for p in shown]
        if len(problems) > len(shown):
            lines.append(f"… and {len(problems) - len(shown)} more problems")
        super().__init__("\n".join(lines), details={"errors": [p.to_dict() for p in shown]})
        self.problems = shown


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    key: str
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}: "
        return where + (f"{self.key}: {self.message}" if self.key else self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


@dataclass
class Problems:
    """The problems found so far in one file."""

    file: str
    items: list[Problem] = field(default_factory=list)

    def add(self, where: Node | int, key: str, message: str) -> None:
        line = where if isinstance(where, int) else line_of(where)
        self.items.append(Problem(self.file, line, key, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise DefinitionError(sorted(self.items, key=lambda p: p.line))

    # -- node helpers: each records a problem and returns None on a node of the wrong shape --

    def pairs(self, node: Node, key: str) -> Iterator[tuple[str, Node, Node]]:
        """(key text, key node, value node) of a mapping; duplicate keys are reported."""
        seen: dict[str, int] = {}
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                self.add(k, key, "keys must be plain names")
                continue
            name = str(k.value)
            if name in seen:
                self.add(k, join(key, name), f"duplicate key (first at line {seen[name]})")
                continue
            seen[name] = line_of(k)
            yield name, k, v

    def mapping(
        self,
        node: Node,
        key: str,
        allowed: tuple[str, ...] | None = None,
        required: tuple[str, ...] = (),
    ) -> dict[str, Node] | None:
        """A mapping's values by key; unknown keys (with a suggestion) and missing ones reported."""
        if not isinstance(node, MappingNode):
            self.add(node, key, f"must be a mapping, not {describe(node)}")
            return None
        out: dict[str, Node] = {}
        for name, knode, value in self.pairs(node, key):
            if allowed is not None and name not in allowed:
                self.add(knode, join(key, name), "unknown key" + suggest(name, allowed))
                continue
            out[name] = value
        for name in required:
            if name not in out:
                self.add(node, key, f"missing required key '{name}'")
        return out

    def sequence(self, node: Node, key: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.add(node, key, f"must be a list, not {describe(node)}")
            return None
        return list(node.value)

    def text(self, node: Node, key: str, *, strict: bool = False) -> str | None:
        """A scalar's source text; ``strict`` also refuses numbers, booleans and null."""
        if not isinstance(node, ScalarNode) or (strict and not is_string(node)):
            kinds = "a string" if strict else "a string, number or boolean"
            self.add(node, key, f"must be {kinds}, not {describe(node)}")
            return None
        return "" if is_null(node) else str(node.value)

    def scalars(self, node: Node, key: str, *, strict: bool = False) -> list[Item] | None:
        """(text, node, key) of each scalar of a list; a single scalar counts as a list of one."""
        if isinstance(node, ScalarNode) and not is_null(node):
            one = self.text(node, key, strict=strict)
            return None if one is None else [(one, node, key)]
        nodes = self.sequence(node, key)
        if nodes is None:
            return None
        out: list[Item] = []
        for i, item in enumerate(nodes):
            text = self.text(item, f"{key}[{i}]", strict=strict)
            if text is not None:
                out.append((text, item, f"{key}[{i}]"))
        return out if len(out) == len(nodes) else None

    def boolean(self, node: Node, key: str) -> bool | None:
        if not (isinstance(node, ScalarNode) and node.tag == _STD_TAG + "bool"):
            self.add(node, key, f"must be true or false, not {describe(node)}")
            return None
        return str(node.value).lower() in ("true", "yes", "on", "y")

    def integer(self, node: Node, key: str) -> int | None:
        if not (isinstance(node, ScalarNode) and node.tag == _STD_TAG + "int"):
            self.add(node, key, f"must be a whole number, not {describe(node)}")
            return None
        return int(yaml.safe_load(node.value))


def join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def suggest(name: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(allowed)})"


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STD_TAG + "null"


def is_string(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STD_TAG + "str"


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if is_null(node):
        return "empty"
    kind = str(node.tag).removeprefix(_STD_TAG)
    shown = str(node.value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f'"{shown}"' if kind == "str" else f"{kind} {shown}"


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.line = int(mark.line) + 1 if mark is not None else 1
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader's composer without aliases, custom tags or unbounded nesting."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(event.start_mark, "YAML aliases (*name) are not allowed here")
        event = self.peek_event()  # type: ignore[no-untyped-call]
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _PLAIN_TAGS:
            raise _Refused(event.start_mark, f"YAML tag {tag} is not allowed here")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nesting is deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_nodes(text: str | bytes, problems: Problems) -> Node | None:
    """The root node of the document, or None with the reason recorded in ``problems``."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "replace"))
    if size > MAX_BYTES:
        problems.add(1, "", f"file is {size} bytes; the limit is {MAX_BYTES // 1024} KiB")
        return None
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            problems.add(line, "", f"file is not UTF-8 text (byte {exc.start})")
            return None
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader refuses control characters already here
        return loader.get_single_node()
    except _Refused as exc:
        problems.add(exc.line, "", exc.message)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        reason = exc.problem or "invalid YAML"
        if exc.context:
            reason = f"{reason} ({exc.context})"
        problems.add(line, "", f"YAML syntax error: {reason}")
    except yaml.YAMLError as exc:
        line = text.count("\n", 0, getattr(exc, "position", 0)) + 1 if isinstance(text, str) else 1
        reason = str(exc).splitlines()[0]
        problems.add(line, "", f"YAML syntax error: {reason}")
    finally:
        if loader is not None:
            loader.dispose()
    return None
