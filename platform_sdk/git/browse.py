"""The repository browser's plumbing: read a bare repository with the real ``git``.

Nothing here knows about users or projects; :mod:`platform_sdk.git.services.browse` checks
access and then calls these functions with the repository's path.

Safety. Refs and paths come from URLs, so they are checked before git sees them:

- :func:`check_ref` refuses anything ``git check-ref-format`` would refuse, plus a leading
  ``-`` (option injection: ``--upload-pack=…``) and revision syntax (``~ ^ : @{``), with
  ``ValidationFailed`` and without running git.
- :func:`resolve` turns a checked ref into a commit SHA with
  ``git rev-parse --verify --end-of-options REF^{commit}``; every later command gets only
  hex SHAs (and ``SHA:path`` specs), never user text in an option position.
- :func:`normalize_path` drops ``.`` and empty segments and refuses ``..``, NUL and
  control characters; paths reach git only after ``SHA:`` or after ``--``.

Empty repositories (no branch yet, or no directory at all) answer empty lists; unknown refs
and paths answer ``NotFound``. Diffs are capped (:data:`MAX_DIFF_FILES` files,
:data:`MAX_PATCH_BYTES` of patch per file) and say so with ``*_truncated`` flags; files larger
than the read limit raise ``PayloadTooLarge``.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from platform_sdk.core.pagination import Page, PageParams
from platform_sdk.errors import NotFound, PayloadTooLarge, ValidationFailed
from platform_sdk.git.diffs import diff_files
from platform_sdk.git.repos import run_git
from platform_sdk.git.schemas import (
    BranchOut,
    CommitDetailOut,
    CommitOut,
    CompareOut,
    FileOut,
    TagOut,
    TreeEntryOut,
)

__all__ = [
    "MAX_COMPARE_COMMITS",
    "READ_LIMIT",
    "branch_exists",
    "check_ref",
    "compare",
    "get_commit",
    "is_empty",
    "list_branches",
    "list_tags",
    "log",
    "normalize_path",
    "read",
    "resolve",
    "set_head",
    "tree",
]

READ_LIMIT = 1024 * 1024
"""Largest file :func:`read` returns (bytes); larger ones raise ``PayloadTooLarge``."""
MAX_COMPARE_COMMITS = 250

_BAD_REF = re.compile(r"^\.|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock$|\.lock/|^/|/$|\.$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_FIELDS = 10  # the fields of _LOG_FORMAT
_LOG_FORMAT = "%x1e%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%b"


def check_ref(ref: str) -> str:
    """``ref`` if it is a safe branch/tag name or SHA; ``ValidationFailed`` otherwise."""
    if not ref or len(ref) > 255 or ref.startswith("-") or ref == "@" or _BAD_REF.search(ref):
        raise ValidationFailed(f"invalid ref {ref[:80]!r}", details={"param": "ref"})
    return ref


def normalize_path(path: str | None) -> str:
    """``a/b/c`` from ``/a//b/./c/``; ``""`` is the root. ``..`` and control characters fail."""
    parts = []
    for part in (path or "").split("/"):
        if part in ("", "."):
            continue
        if part == ".." or any(ord(c) < 0x20 or c == "\x7f" for c in part):
            raise ValidationFailed(f"invalid path {path!r}", details={"param": "path"})
        parts.append(part)
    return "/".join(parts)


def _git(repo: Path, args: list[str], *, check: bool = True) -> tuple[int, bytes]:
    proc = run_git(args, git_dir=repo, check=check)
    return proc.returncode, proc.stdout


def is_empty(repo: Path) -> bool:
    """True when the repository has no branch or tag yet (or does not exist on disk)."""
    if not (repo / "HEAD").is_file():
        return True
    _, out = _git(repo, ["for-each-ref", "--count=1", "--format=x", "refs/heads", "refs/tags"])
    return not out.strip()


def resolve(repo: Path, ref: str) -> str:
    """The commit SHA ``ref`` names; ``NotFound`` when it names none."""
    check_ref(ref)
    if (repo / "HEAD").is_file():
        code, out = _git(
            repo,
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            check=False,
        )
        if code == 0:
            return out.decode().strip()
    raise NotFound(f"ref {ref!r} not found")


def branch_exists(repo: Path, name: str) -> bool:
    check_ref(name)
    if not (repo / "HEAD").is_file():
        return False
    code, _ = _git(repo, ["show-ref", "--verify", "--quiet", f"refs/heads/{name}"], check=False)
    return code == 0


def set_head(repo: Path, branch: str) -> None:
    """Point the repository's HEAD (what clones check out) at ``branch``."""
    check_ref(branch)
    if (repo / "HEAD").is_file():
        _git(repo, ["symbolic-ref", "HEAD", f"refs/heads/{branch}"])


def _date(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def list_branches(repo: Path, default_branch: str) -> list[BranchOut]:
    """Branches by name, the default one flagged."""
    if is_empty(repo):
        return []
    fmt = "%(refname:lstrip=2)%00%(objectname)%00%(committerdate:iso-strict)"
    _, out = _git(repo, ["for-each-ref", "--sort=refname", f"--format={fmt}", "refs/heads"])
    branches = []
    for line in out.decode("utf-8", "replace").splitlines():
        name, sha, date = line.split("\0")
        branches.append(
            BranchOut(
                name=name, sha=sha, is_default=name == default_branch, committed_at=_date(date)
            )
        )
    return branches


def list_tags(repo: Path) -> list[TagOut]:
    """Tags, newest first, each peeled to the commit it names."""
    if is_empty(repo):
        return []
    fmt = (
        "%(refname:lstrip=2)%00%(objectname)%00%(*objectname)%00%(objecttype)%00"
        "%(creatordate:iso-strict)%00%(contents:subject)"
    )
    _, out = _git(repo, ["for-each-ref", "--sort=-creatordate", f"--format={fmt}", "refs/tags"])
    tags = []
    for line in out.decode("utf-8", "replace").splitlines():
        name, sha, peeled, kind, date, subject = line.split("\0")
        annotated = kind == "tag"
        tags.append(
            TagOut(
                name=name,
                sha=peeled if annotated and peeled else sha,
                annotated=annotated,
                message=subject if annotated else "",
                created_at=_date(date),
            )
        )
    return tags


def _parse_log(out: bytes) -> list[CommitOut]:
    commits = []
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        f = record.split("\0")
        if len(f) < _FIELDS:
            continue
        commits.append(
            CommitOut(
                sha=f[0],
                parents=f[1].split(),
                author_name=f[2],
                author_email=f[3],
                authored_at=datetime.fromisoformat(f[4]),
                committer_name=f[5],
                committer_email=f[6],
                committed_at=datetime.fromisoformat(f[7]),
                subject=f[8],
                body="\0".join(f[9:]).strip(),
            )
        )
    return commits


def _commits(repo: Path, revs: list[str], path: str, skip: int, count: int) -> list[CommitOut]:
    args = ["log", f"--format={_LOG_FORMAT}", f"--skip={skip}", f"--max-count={count}", *revs]
    _, out = _git(repo, [*args, "--", path] if path else [*args, "--"])
    return _parse_log(out)


def log(repo: Path, ref: str, page: PageParams, path: str | None = None) -> Page[CommitOut]:
    """The history of ``ref`` (only commits touching ``path`` if given), newest first."""
    check_ref(ref)
    rel = normalize_path(path)
    if is_empty(repo):
        return Page[CommitOut](
            items=[], page=page.page, per_page=page.per_page, total=0, next_page=None
        )
    sha = resolve(repo, ref)
    count = ["rev-list", "--count", sha, "--"] + ([rel] if rel else [])
    total = int(_git(repo, count)[1].decode().strip() or 0)
    items = _commits(repo, [sha], rel, page.offset, page.per_page)
    more = page.offset + len(items) < total
    return Page[CommitOut](
        items=items,
        page=page.page,
        per_page=page.per_page,
        total=total,
        next_page=page.page + 1 if more else None,
    )


def get_commit(repo: Path, ref: str) -> CommitDetailOut:
    """One commit and its diff against its first parent (the empty tree for a root)."""
    sha = resolve(repo, ref)
    (commit,) = _commits(repo, [sha], "", 0, 1)
    parent = commit.parents[0] if commit.parents else None
    files, truncated = diff_files(repo, parent, sha)
    return CommitDetailOut(**commit.model_dump(), files=files, files_truncated=truncated)


def _object(repo: Path, sha: str, path: str) -> tuple[str, str]:
    """(type, object id) of ``path`` in commit ``sha``; ``NotFound`` if there is none."""
    spec = f"{sha}:{path}"
    code, out = _git(repo, ["rev-parse", "--verify", "--quiet", spec], check=False)
    if code != 0:
        raise NotFound(f"path {path!r} not found")
    oid = out.decode().strip()
    _, kind = _git(repo, ["cat-file", "-t", oid])
    return kind.decode().strip(), oid


def tree(repo: Path, ref: str, path: str | None = None) -> list[TreeEntryOut]:
    """The entries of directory ``path`` at ``ref``: directories first, then by name."""
    check_ref(ref)
    rel = normalize_path(path)
    if is_empty(repo):
        return []
    sha = resolve(repo, ref)
    kind, oid = _object(repo, sha, rel)
    if kind != "tree":
        raise NotFound(f"{rel!r} is not a directory")
    _, out = _git(repo, ["ls-tree", "-z", "-l", oid])
    entries = []
    for record in out.decode("utf-8", "replace").split("\0"):
        if not record:
            continue
        meta, name = record.split("\t", 1)
        mode, typ, _oid, size = meta.split()
        entries.append(
            TreeEntryOut(
                name=name,
                path=f"{rel}/{name}" if rel else name,
                type=typ,  # git's own blob/tree/commit
                mode=mode,
                size=None if size == "-" else int(size),
            )
        )
    entries.sort(key=lambda e: (e.type != "tree", e.name))
    return entries


def read(repo: Path, ref: str, path: str, limit: int = READ_LIMIT) -> FileOut:
    """The file ``path`` at ``ref``; ``PayloadTooLarge`` above ``limit`` bytes."""
    rel = normalize_path(path)
    sha = resolve(repo, ref)
    if not rel:
        raise NotFound("the root is a directory, not a file")
    kind, oid = _object(repo, sha, rel)
    if kind != "blob":
        raise NotFound(f"{rel!r} is not a file")
    size = int(_git(repo, ["cat-file", "-s", oid])[1].decode().strip())
    if size > limit:
        raise PayloadTooLarge(
            f"{rel} is {size} bytes, over the {limit}-byte limit",
            details={"size": size, "limit": limit},
        )
    _, data = _git(repo, ["cat-file", "blob", oid])
    return FileOut.from_bytes(path=rel, ref=ref, sha=oid, data=data)


def compare(repo: Path, base: str, head: str) -> CompareOut:
    """How ``head`` differs from ``base``: commits each way and the diff since the merge base."""
    check_ref(base)
    check_ref(head)
    base_sha, head_sha = resolve(repo, base), resolve(repo, head)
    code, out = _git(repo, ["merge-base", base_sha, head_sha], check=False)
    merge_base = out.decode().strip() if code == 0 and out.strip() else None
    _, counts = _git(repo, ["rev-list", "--left-right", "--count", f"{base_sha}...{head_sha}"])
    behind, ahead = (int(n) for n in counts.decode().split())
    commits = _commits(repo, [head_sha, f"^{base_sha}"], "", 0, MAX_COMPARE_COMMITS)
    files, truncated = diff_files(repo, merge_base or base_sha, head_sha)
    return CompareOut(
        base=base,
        head=head,
        base_sha=base_sha,
        head_sha=head_sha,
        merge_base=merge_base,
        ahead_by=ahead,
        behind_by=behind,
        commits=commits,
        commits_truncated=ahead > len(commits),
        files=files,
        files_truncated=truncated,
    )
