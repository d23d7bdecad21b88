"""The platform's git hooks: branch protection (``pre-receive``), push reports (``post-receive``).

``git receive-pack`` runs with ``-c core.hooksPath=<platform hooks dir>`` (see
:func:`platform_sdk.git.protocol.ensure_hooks_dir`), whose scripts are two-line shell wrappers::

    #!/bin/sh
    exec /path/to/python -I -S /path/to/platform_sdk/git/hooks.py pre-receive

The wrapper runs *this file* as a script rather than ``python -m platform_sdk.git.hooks``:
importing the ``platform_sdk`` package costs about a second (SQLAlchemy, pydantic, …), which
would be paid twice on every push. This module therefore imports only the standard library,
and needs no database: everything it needs comes in the environment the HTTP handler gives
receive-pack, which git passes on to its hooks.

``pre-receive`` reads ``old new ref`` lines and refuses the whole push (exit 1) when a branch
matching one of the JSON patterns in ``PLATFORM_GIT_PROTECTED`` (``fnmatch`` on the branch name,
``refs/heads/`` stripped) would be deleted or moved to a commit that does not descend from its
old one. Ancestry is checked with ``git merge-base --is-ancestor old new``, which runs inside
the hook's quarantine environment (``GIT_QUARANTINE_PATH``/``GIT_OBJECT_DIRECTORY`` are
inherited), so it sees the objects being pushed. What the hook prints on stderr reaches the
client as ``remote: …`` lines.

``post-receive`` appends the accepted ``old new ref`` lines to the file named by
``PLATFORM_GIT_REPORT``; the handler reads it after receive-pack exits and records the push.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence

__all__ = ["PROTECTED_ENV", "REPORT_ENV", "is_zero", "main", "refusals"]

PROTECTED_ENV = "PLATFORM_GIT_PROTECTED"
REPORT_ENV = "PLATFORM_GIT_REPORT"
BRANCH_PREFIX = "refs/heads/"


def is_zero(sha: str) -> bool:
    """Whether ``sha`` is git's all-zeros id (a ref created or deleted)."""
    return bool(sha) and set(sha) == {"0"}


def _is_ancestor(old: str, new: str) -> bool:
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", old, new],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def _updates(lines: Iterable[str]) -> list[tuple[str, str, str]]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def refusals(updates: Sequence[tuple[str, str, str]], patterns: Sequence[str]) -> list[str]:
    """The messages refusing the updates that touch a protected branch (empty: all fine)."""
    out = []
    for old, new, ref in updates:
        if not ref.startswith(BRANCH_PREFIX):
            continue
        branch = ref[len(BRANCH_PREFIX) :]
        if not any(fnmatch.fnmatchcase(branch, p) for p in patterns):
            continue
        if is_zero(new):
            out.append(f"refusing to delete protected branch {branch}")
        elif not is_zero(old) and not _is_ancestor(old, new):
            out.append(f"refusing to force-push protected branch {branch}")
    return out


def _pre_receive() -> int:
    try:
        patterns = [str(p) for p in json.loads(os.environ.get(PROTECTED_ENV) or "[]")]
    except ValueError:
        print("platform: unreadable branch protection settings; refusing push", file=sys.stderr)
        return 1
    refused = refusals(_updates(sys.stdin), patterns)
    for message in refused:
        print(message, file=sys.stderr)
    return 1 if refused else 0


def _post_receive() -> int:
    report = os.environ.get(REPORT_ENV)
    updates = _updates(sys.stdin)
    if report:
        with open(report, "a", encoding="utf-8") as f:
            for old, new, ref in updates:
                f.write(f"{old} {new} {ref}\n")
    return 0


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("pre-receive", "post-receive"):
        print("usage: hooks.py pre-receive|post-receive", file=sys.stderr)
        return 2
    return _pre_receive() if argv[0] == "pre-receive" else _post_receive()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
