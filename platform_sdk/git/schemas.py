"""Pydantic schemas of the repository browser: what git/browse.py returns, HTTP and the SDK.

Everything here is read-only output: the browser never writes to a repository. SHAs are
strings of 40 (SHA-1) or 64 (SHA-256) hex digits. Dates are timezone-aware, as git records
them (author and committer offsets are kept).

``FileOut`` carries a file's content as text when it is not binary (``encoding="utf-8"``,
undecodable bytes replaced) and as base64 otherwise (``encoding="base64"``);
:meth:`FileOut.raw` gives the exact bytes back in either case.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

__all__ = [
    "BranchOut",
    "CommitDetailOut",
    "CommitOut",
    "CompareOut",
    "DiffFileOut",
    "FileOut",
    "TagOut",
    "TreeEntryOut",
]

DiffStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type_changed"]


class BranchOut(BaseModel):
    name: str
    sha: str
    is_default: bool
    committed_at: datetime | None


class TagOut(BaseModel):
    name: str
    sha: str
    """The commit the tag points at (peeled through annotated tags)."""
    annotated: bool
    message: str
    created_at: datetime | None


class CommitOut(BaseModel):
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committer_email: str
    committed_at: datetime
    subject: str
    body: str


class DiffFileOut(BaseModel):
    path: str
    old_path: str | None
    """The path before a rename or copy; None otherwise."""
    status: DiffStatus
    additions: int
    deletions: int
    binary: bool
    patch: str
    """Unified diff of this file (empty for binary files), cut at the patch limit."""
    patch_truncated: bool


class CommitDetailOut(CommitOut):
    files: list[DiffFileOut]
    files_truncated: bool
    """True when the commit touched more files than the browser lists."""


class TreeEntryOut(BaseModel):
    name: str
    path: str
    type: Literal["blob", "tree", "commit"]
    mode: str
    size: int | None
    """Bytes of a blob; None for trees and submodules (``commit``)."""


class FileOut(BaseModel):
    path: str
    ref: str
    sha: str
    """The blob's object id."""
    size: int
    is_binary: bool
    encoding: Literal["utf-8", "base64"]
    content: str

    def raw(self) -> bytes:
        """The file's exact bytes."""
        if self.encoding == "base64":
            return base64.b64decode(self.content)
        return self.content.encode("utf-8")

    @classmethod
    def from_bytes(cls, *, path: str, ref: str, sha: str, data: bytes) -> FileOut:
        """Binary when a NUL byte is in the first 8000 bytes (git's rule). Content is text
        when it is not binary and decodes as UTF-8, base64 otherwise (so no byte is lost)."""
        binary = b"\0" in data[:8000]
        text: str | None = None
        if not binary:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        common: dict[str, object] = {
            "path": path,
            "ref": ref,
            "sha": sha,
            "size": len(data),
            "is_binary": binary,
        }
        if text is None:
            content = {"encoding": "base64", "content": base64.b64encode(data).decode()}
        else:
            content = {"encoding": "utf-8", "content": text}
        return cls.model_validate(common | content)


class CompareOut(BaseModel):
    base: str
    head: str
    base_sha: str
    head_sha: str
    merge_base: str | None
    """None when the two histories share no commit."""
    ahead_by: int
    """Commits on head that base lacks."""
    behind_by: int
    """Commits on base that head lacks."""
    commits: list[CommitOut]
    """The commits ahead, newest first, at most the browser's limit."""
    commits_truncated: bool
    files: list[DiffFileOut]
    """The diff from the merge base (or base, without one) to head."""
    files_truncated: bool
