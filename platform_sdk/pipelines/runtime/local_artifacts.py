"""Which workspace files a step keeps: its ``artifacts`` globs, matched without leaving the tree.

Patterns are ``/``-separated and relative to the workspace: ``*`` and ``?`` match within one
path segment, ``[abc]`` a character class, ``**`` as a whole segment any number of directories
(zero included: ``**/*.xml`` matches ``report.xml`` too; ``dist/**`` is everything under
``dist``). ``*`` matches dot-files as well. Only files are collected; a pattern naming a
directory collects nothing (write ``dir/**``).

Safety: :func:`check_patterns` refuses absolute patterns and any ``..`` segment before the step
runs. Matching walks the workspace itself (``os.walk`` without following directory symlinks,
the top-level ``.git`` skipped, walking only below each pattern's literal prefix) instead of
``glob``, so a symlink loop cannot make it run forever; every match is resolved and a file
whose real path is outside the workspace (a symlink to ``/etc/passwd``, or through a symlinked
directory) is skipped with a log line. A symlink to a file inside the workspace is collected
under the link's name, pointing at the real file. Patterns are matched in linear time by
:mod:`platform_sdk.pipelines.glob`, never by a backtracking regular expression.

At most :data:`MAX_ARTIFACTS` files are collected per step (the first ones in walk order, then
sorted by name); the log says when the cap was hit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.glob import Glob, compile_glob, glob_error

__all__ = ["MAX_ARTIFACTS", "check_patterns", "collect"]

MAX_ARTIFACTS = 1000


def _normalise(pattern: str) -> list[str]:
    return [part for part in pattern.split("/") if part not in ("", ".")]


def check_patterns(patterns: Sequence[str]) -> None:
    """Raise :class:`ValidationFailed` naming the first pattern that could leave the workspace."""
    for pattern in patterns:
        if not pattern.strip():
            raise ValidationFailed("artifact pattern is empty")
        if pattern.startswith(("/", "~")) or PurePosixPath(pattern).is_absolute():
            raise ValidationFailed(
                f"artifact pattern {pattern!r} is absolute; patterns are relative to the workspace"
            )
        if ".." in pattern.split("/"):
            raise ValidationFailed(f"artifact pattern {pattern!r} escapes the workspace ('..')")
        if not _normalise(pattern):
            raise ValidationFailed(f"artifact pattern {pattern!r} names no file")
        if (problem := glob_error("/".join(_normalise(pattern)))) is not None:
            raise ValidationFailed(f"artifact pattern {pattern!r}: {problem}")


def _pattern_glob(parts: list[str]) -> Glob:
    """The linear-time matcher of a normalised pattern: ``**`` counts only as a whole segment."""
    segments = [part if part == "**" else re.sub(r"\*{2,}", "*", part) for part in parts]
    return compile_glob("/".join(segments))


def _literal_prefix(parts: list[str]) -> str:
    prefix: list[str] = []
    for part in parts[:-1]:
        if any(c in part for c in "*?["):
            break
        prefix.append(part)
    return "/".join(prefix)


def _walk_roots(prefixes: set[str]) -> list[str]:
    """The prefixes with those below another one dropped ("" is the whole workspace)."""
    roots: list[str] = []
    for prefix in sorted(prefixes, key=lambda p: (p.count("/"), p)):
        if not any(r == "" or prefix == r or prefix.startswith(r + "/") for r in roots):
            roots.append(prefix)
    return roots


def collect(
    workspace: Path,
    patterns: Sequence[str],
    log: Callable[[str], None],
    *,
    limit: int = MAX_ARTIFACTS,
) -> tuple[tuple[str, Path], ...]:
    """``(name relative to the workspace, real file)`` for each file the patterns match."""
    if not patterns:
        return ()
    ws = workspace.resolve()
    parsed = [_normalise(p) for p in patterns]
    matchers = [_pattern_glob(parts) for parts in parsed]
    found: dict[str, Path] = {}
    capped = False
    for root in _walk_roots({_literal_prefix(parts) for parts in parsed}):
        top = ws / root if root else ws
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            rel_dir = Path(dirpath).relative_to(ws).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            if rel_dir == "":
                dirnames[:] = [d for d in dirnames if d != ".git"]
            dirnames.sort()
            for filename in sorted(filenames):
                name = f"{rel_dir}/{filename}" if rel_dir else filename
                if name in found or not any(m.match(name) for m in matchers):
                    continue
                real = (ws / name).resolve()
                if not real.is_relative_to(ws):
                    log(f"artifact {name!r} skipped: it points outside the workspace")
                    continue
                if not real.is_file():
                    continue
                if len(found) >= limit:
                    capped = True
                    break
                found[name] = real
            if capped:
                break
        if capped:
            break
    if capped:
        log(f"artifacts capped at {limit} files: the rest of the matches are not kept")
    return tuple(sorted(found.items()))
