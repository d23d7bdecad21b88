"""Merging on the bare repository, without a working tree, atomically or not at all.

Every strategy builds the new commit from objects only, then moves the target ref with
``git update-ref refs/heads/<target> <new> <old>``. Giving the old value makes the move a
compare-and-swap: if anyone pushed to the target since we read it, git refuses and we raise
:class:`Conflict` ("target branch moved; retry") — nothing is half-merged.

- ``merge``: ``git merge-tree --write-tree --name-only`` computes the merged tree (exit 1
  lists the conflicting files → :class:`Conflict` naming them, and nothing but unreachable
  loose objects was written), then ``git commit-tree <tree> -p target -p source``.
- ``fast_forward``: only when the target is an ancestor of the source; the ref moves to the
  source commit.
- ``squash``: the same merged tree, committed with the target as the only parent.

Refs are the truth: when the ref update succeeded but the database transaction then fails,
the merge request stays open while its commits are in the target; merging it again reports
"nothing to merge".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_sdk.errors import Conflict, NotFound
from platform_sdk.git.models import MergeStrategy
from platform_sdk.git.repos import run_git

__all__ = [
    "MergeResult",
    "Signature",
    "branch_sha",
    "diff_range",
    "is_ancestor",
    "log_range",
    "merge_branches",
]


@dataclass(frozen=True)
class Signature:
    """Who the merge commit is authored by (the committer is the platform)."""

    name: str
    email: str


@dataclass(frozen=True)
class MergeResult:
    commit: str
    target_before: str
    source: str


def branch_sha(git_dir: Path, branch: str) -> str | None:
    """The commit ``refs/heads/<branch>`` points at, or None when there is no such branch."""
    proc = run_git(
        ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
        git_dir=git_dir,
        check=False,
    )
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def is_ancestor(git_dir: Path, ancestor: str, descendant: str) -> bool:
    proc = run_git(
        ["merge-base", "--is-ancestor", ancestor, descendant], git_dir=git_dir, check=False
    )
    if proc.returncode not in (0, 1):
        raise Conflict(f"cannot compare {ancestor[:12]} and {descendant[:12]}")
    return proc.returncode == 0


def _merged_tree(git_dir: Path, target: str, source: str) -> str:
    proc = run_git(
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", target, source],
        git_dir=git_dir,
        check=False,
    )
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    if proc.returncode == 1:
        files = sorted({line for line in lines[1:] if line.strip()})
        raise Conflict(
            f"merge conflict in {', '.join(files) or 'the tree'}; resolve on the source branch",
            details={"conflicts": files},
        )
    if proc.returncode != 0 or not lines:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        raise Conflict(f"cannot merge: {stderr[:300]}")
    return lines[0].strip()


def _commit_tree(
    git_dir: Path, tree: str, parents: list[str], message: str, author: Signature
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    proc = run_git(
        args,
        git_dir=git_dir,
        input=message.encode(),
        env={"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email},
    )
    return proc.stdout.decode().strip()


def _move_ref(git_dir: Path, branch: str, new: str, old: str, reason: str) -> None:
    proc = run_git(
        ["update-ref", "-m", reason, f"refs/heads/{branch}", new, old],
        git_dir=git_dir,
        check=False,
    )
    if proc.returncode != 0:
        raise Conflict(
            f"target branch {branch} moved; retry",
            details={"branch": branch, "expected": old},
        )


def merge_branches(
    git_dir: Path,
    *,
    source_branch: str,
    target_branch: str,
    strategy: MergeStrategy,
    message: str,
    author: Signature,
    expected_target: str | None = None,
) -> MergeResult:
    """Merge ``source_branch`` into ``target_branch`` of the bare repo at ``git_dir``.

    ``expected_target`` (a commit id) refuses the merge when the target is elsewhere — the
    caller's view of the target is stale. The returned ``commit`` is the new target head.
    """
    source = branch_sha(git_dir, source_branch)
    target = branch_sha(git_dir, target_branch)
    if source is None or target is None:
        missing = source_branch if source is None else target_branch
        raise NotFound(f"branch {missing} not found")
    if expected_target is not None and expected_target != target:
        raise Conflict(
            f"target branch {target_branch} moved; retry",
            details={"branch": target_branch, "expected": expected_target, "actual": target},
        )
    if is_ancestor(git_dir, source, target):
        raise Conflict(f"nothing to merge: {source_branch} is already in {target_branch}")
    if strategy == MergeStrategy.FAST_FORWARD:
        if not is_ancestor(git_dir, target, source):
            raise Conflict(
                f"cannot fast-forward: {target_branch} has commits that {source_branch} lacks; "
                "rebase the source or use the merge strategy"
            )
        new = source
    else:
        tree = _merged_tree(git_dir, target, source)
        parents = [target, source] if strategy == MergeStrategy.MERGE else [target]
        new = _commit_tree(git_dir, tree, parents, message, author)
    _move_ref(git_dir, target_branch, new, target, f"merge {source_branch}: {strategy.value}")
    return MergeResult(commit=new, target_before=target, source=source)


# -- what a merge request shows: its commits and its diff --------------------------------
MAX_PATCH_BYTES = 1_000_000
"""A diff's patch text is cut here (``truncated`` says so); the file list is always whole."""


def log_range(git_dir: Path, base: str, head: str, limit: int = 500) -> list[dict[str, str]]:
    """Commits in ``head`` but not in ``base`` (``git log base..head``), newest first."""
    fmt = "%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1e"
    proc = run_git(
        ["log", f"--max-count={limit}", f"--format={fmt}", f"{base}..{head}"], git_dir=git_dir
    )
    out = []
    for record in proc.stdout.decode("utf-8", "replace").split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 5:
            sha, name, email, when, title = parts
            out.append(
                {
                    "sha": sha,
                    "author_name": name,
                    "author_email": email,
                    "authored_at": when,
                    "title": title,
                }
            )
    return out


def diff_range(git_dir: Path, base: str, head: str) -> dict[str, object]:
    """``git diff base...head``: the changes of ``head`` since it forked from ``base``."""
    rng = f"{base}...{head}"
    names = run_git(["diff", "--no-renames", "--name-status", "-z", rng], git_dir=git_dir)
    stats = run_git(["diff", "--no-renames", "--numstat", "-z", rng], git_dir=git_dir)
    counts: dict[str, tuple[int | None, int | None]] = {}
    for entry in stats.stdout.decode("utf-8", "replace").split("\0"):
        fields = entry.split("\t")
        if len(fields) == 3:
            add, rem, path = fields
            counts[path] = (
                None if add == "-" else int(add),
                None if rem == "-" else int(rem),
            )
    tokens = names.stdout.decode("utf-8", "replace").split("\0")
    files = []
    for status, path in zip(tokens[0::2], tokens[1::2], strict=False):
        if status:
            plus, minus = counts.get(path, (None, None))
            files.append({"path": path, "status": status, "additions": plus, "deletions": minus})
    patch = run_git(
        ["diff", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv", rng],
        git_dir=git_dir,
    ).stdout
    merge_base = run_git(["merge-base", base, head], git_dir=git_dir, check=False)
    return {
        "base_sha": merge_base.stdout.decode().strip() or base,
        "head_sha": head,
        "files": files,
        "patch": patch[:MAX_PATCH_BYTES].decode("utf-8", "replace"),
        "truncated": len(patch) > MAX_PATCH_BYTES,
    }
