"""Linear-time glob matching for the patterns users write in ``.platform.yaml``.

Branch, tag, path and artifact patterns come from whoever can push, so they must not be able to
stall the server. A glob translated to a backtracking regular expression can: ``*a*a*a…X``
against a long branch name takes time exponential in the number of stars. This matcher instead
runs the pattern as a small automaton over the value, one character at a time, keeping the set
of pattern positions still alive (Thompson's construction). Each character visits each position
at most once, so a match costs at most ``(len(value) + 1) * positions`` steps whatever the
pattern; :meth:`Glob.match_counting` reports the steps so tests can assert the bound.

Syntax (the git/Woodpecker convention, not :mod:`fnmatch`):

- ``*`` any run of characters except ``/``; ``?`` one character except ``/``;
- ``**`` any run of characters, ``/`` included; ``**/`` no directory or any directories
  (``src/**/*.py`` matches ``src/a.py`` and ``src/a/b.py``);
- ``[abc]``, ``[a-z]``, ``[!a-z]`` / ``[^a-z]`` a character class (a negated class never matches
  ``/``; a ``]`` first in the class is literal; ``\\`` is a literal backslash);
- anything else matches itself.

Patterns are bounded (:data:`MAX_GLOB_LENGTH` characters); the definition checker bounds how
many a list may hold.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from platform_sdk.errors import ValidationFailed

__all__ = ["MAX_GLOB_LENGTH", "Glob", "compile_glob", "glob_error", "glob_match"]

MAX_GLOB_LENGTH = 256

# Node kinds. A node at index i either consumes one character and moves to i + 1 (LIT, ONE,
# CLASS), loops on i (STAR, ANY, after an epsilon move to i + 1), or splits (DIRS: an epsilon
# move to i + 2 for "no directory", or to i + 1, the DIRS_BODY node that loops on any character
# and moves on to i + 2 after a "/").
_LIT, _ONE, _CLASS, _STAR, _ANY, _DIRS, _DIRS_BODY = range(7)


@dataclass(frozen=True, slots=True)
class _Node:
    kind: int
    char: str = ""
    ranges: tuple[tuple[str, str], ...] = ()
    negated: bool = False

    def accepts(self, c: str) -> bool:
        """Whether a consuming node (LIT, ONE, CLASS) takes ``c``."""
        if self.kind == _LIT:
            return c == self.char
        if self.kind == _ONE:
            return c != "/"
        inside = any(lo <= c <= hi for lo, hi in self.ranges)
        return c != "/" and not inside if self.negated else inside


def _class(pattern: str, start: int) -> tuple[_Node, int]:
    """The class opening at ``pattern[start] == '['`` and the index after its ``]``."""
    j = start + 1
    negated = j < len(pattern) and pattern[j] in "!^"
    if negated:
        j += 1
    body_start = j
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    close = pattern.find("]", j)
    if close < 0:
        raise ValidationFailed(f"glob {pattern!r} has an unclosed '['")
    body = pattern[body_start:close]
    ranges: list[tuple[str, str]] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            lo, hi = body[k], body[k + 2]
            if hi < lo:
                raise ValidationFailed(f"glob {pattern!r} has a reversed range '{lo}-{hi}'")
            ranges.append((lo, hi))
            k += 3
        else:
            ranges.append((body[k], body[k]))
            k += 1
    return _Node(_CLASS, ranges=tuple(ranges), negated=negated), close + 1


def _parse(pattern: str) -> tuple[_Node, ...]:
    if not pattern:
        raise ValidationFailed("glob is empty")
    if len(pattern) > MAX_GLOB_LENGTH:
        raise ValidationFailed(
            f"glob {pattern[:40]!r}… is {len(pattern)} characters; the limit is {MAX_GLOB_LENGTH}"
        )
    nodes: list[_Node] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i == 1:
                node = _Node(_STAR)
            elif j < n and pattern[j] == "/":
                node = _Node(_DIRS)
                j += 1
            else:
                node = _Node(_ANY)
            nodes += [node, _Node(_DIRS_BODY)] if node.kind == _DIRS else [node]
            i = j
        elif c == "?":
            nodes.append(_Node(_ONE))
            i += 1
        elif c == "[":
            node, i = _class(pattern, i)
            nodes.append(node)
        else:
            nodes.append(_Node(_LIT, char=c))
            i += 1
    return tuple(nodes)


class Glob:
    """A compiled glob; :meth:`match` tests a whole value against it."""

    __slots__ = ("_literal", "_nodes", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._nodes = _parse(pattern)
        literal = all(node.kind == _LIT for node in self._nodes)
        self._literal = "".join(node.char for node in self._nodes) if literal else None

    @property
    def size(self) -> int:
        """Positions in the automaton (the ``m`` of the ``O(n*m)`` bound)."""
        return len(self._nodes) + 1

    def _close(self, states: set[int], out: set[int], work: list[int]) -> None:
        """Add to ``out`` every position reachable from ``states`` without consuming."""
        nodes, end = self._nodes, len(self._nodes)
        stack = list(states)
        while stack:
            i = stack.pop()
            if i in out:
                continue
            out.add(i)
            work[0] += 1
            if i == end:
                continue
            kind = nodes[i].kind
            if kind in (_STAR, _ANY):
                stack.append(i + 1)
            elif kind == _DIRS:
                stack += [i + 1, i + 2]

    def match_counting(self, value: str) -> tuple[bool, int]:
        """``(matches, steps)``: each step is one pattern position visited for one character."""
        if self._literal is not None:
            return value == self._literal, len(value) + 1
        nodes, end = self._nodes, len(self._nodes)
        work = [0]
        current: set[int] = set()
        self._close({0}, current, work)
        for c in value:
            moved: set[int] = set()
            for i in current:
                if i == end:
                    continue
                node = nodes[i]
                kind = node.kind
                if kind == _STAR:
                    if c != "/":
                        moved.add(i)
                elif kind == _ANY:
                    moved.add(i)
                elif kind == _DIRS_BODY:
                    moved.add(i)
                    if c == "/":
                        moved.add(i + 1)
                elif kind != _DIRS and node.accepts(c):
                    moved.add(i + 1)
            current = set()
            self._close(moved, current, work)
            if not current:
                return False, work[0]
        return end in current, work[0]

    def match(self, value: str) -> bool:
        return self.match_counting(value)[0]


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    """The compiled ``pattern``; :class:`ValidationFailed` says why it is not a usable glob."""
    return Glob(pattern)


def glob_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable glob, or None when it is."""
    try:
        compile_glob(pattern)
    except ValidationFailed as exc:
        return exc.message
    return None


def glob_match(pattern: str, value: str) -> bool:
    """Does ``value`` (a branch, tag or path) match ``pattern``?"""
    return compile_glob(pattern).match(value)
