"""Per-file diffs between two commits, for the browser's commit view and comparisons.

Three ``git diff-tree`` runs over the same pair of commits, all with rename detection (``-M``)
and the same file order: ``--raw -z`` gives status and paths, ``--numstat -z`` the added and
deleted line counts (``-`` for binary files), and ``-p`` the patch text, split at its
``diff --git`` headers (a content line always starts with ``' '``, ``+``, ``-`` or ``\\``, so
a header can't be forged by file content). Callers pass SHAs only (see
:mod:`platform_sdk.git.browse`); ``--no-ext-diff`` and ``--no-textconv`` keep repository
attributes from running anything.
"""

from __future__ import annotations

from pathlib import Path

from platform_sdk.git.repos import run_git
from platform_sdk.git.schemas import DiffFileOut, DiffStatus

__all__ = ["MAX_DIFF_FILES", "MAX_PATCH_BYTES", "diff_files"]

MAX_DIFF_FILES = 300
MAX_PATCH_BYTES = 64 * 1024

_STATUS: dict[str, DiffStatus] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type_changed",
}


def _run(repo: Path, fmt: list[str], base: str | None, head: str) -> bytes:
    args = ["diff-tree", "-r", "-M", "--no-ext-diff", "--no-textconv", "--no-commit-id", *fmt]
    args += [base, head] if base else ["--root", head]
    return run_git(args, git_dir=repo).stdout


def _raw(out: bytes) -> list[tuple[str, str, str | None]]:
    """(status letter, path, old path) per file of ``--raw -z`` output."""
    fields = out.decode("utf-8", "replace").split("\0")
    files: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(fields) and fields[i].startswith(":"):
        letter = fields[i].split()[-1][0]
        if letter in "RC":
            files.append((letter, fields[i + 2], fields[i + 1]))
            i += 3
        else:
            files.append((letter, fields[i + 1], None))
            i += 2
    return files


def _numstat(out: bytes) -> list[tuple[int, int, bool]]:
    """(additions, deletions, binary) per file of ``--numstat -z`` output."""
    fields = out.decode("utf-8", "replace").split("\0")
    stats: list[tuple[int, int, bool]] = []
    i = 0
    while i < len(fields) and fields[i]:
        added, deleted, path = fields[i].split("\t", 2)
        binary = added == "-"
        stats.append((0 if binary else int(added), 0 if binary else int(deleted), binary))
        i += 3 if path == "" else 1  # a rename: empty path, then old and new path fields
    return stats


def _patches(out: bytes) -> list[bytes]:
    chunks: list[bytes] = []
    for line in out.splitlines(keepends=True):
        if line.startswith(b"diff --git "):
            chunks.append(line)
        elif chunks:
            chunks[-1] += line
    return chunks


def diff_files(repo: Path, base: str | None, head: str) -> tuple[list[DiffFileOut], bool]:
    """The files changed from ``base`` (None: the empty tree) to ``head``, and whether the
    list was cut at :data:`MAX_DIFF_FILES`."""
    raw = _raw(_run(repo, ["--raw", "-z"], base, head))
    stats = _numstat(_run(repo, ["--numstat", "-z"], base, head))
    truncated = len(raw) > MAX_DIFF_FILES
    raw, stats = raw[:MAX_DIFF_FILES], stats[:MAX_DIFF_FILES]
    patches = _patches(_run(repo, ["-p"], base, head)) if raw else []
    files = []
    for n, (letter, path, old_path) in enumerate(raw):
        added, deleted, binary = stats[n] if n < len(stats) else (0, 0, False)
        patch = patches[n] if n < len(patches) and not binary else b""
        files.append(
            DiffFileOut(
                path=path,
                old_path=old_path,
                status=_STATUS.get(letter, "modified"),
                additions=added,
                deletions=deleted,
                binary=binary,
                patch=patch[:MAX_PATCH_BYTES].decode("utf-8", "replace"),
                patch_truncated=len(patch) > MAX_PATCH_BYTES,
            )
        )
    return files, truncated
