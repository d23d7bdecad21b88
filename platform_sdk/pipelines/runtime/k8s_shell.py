"""What the pods' shells run, and what comes back through their output.

**Checkout** (:data:`CHECKOUT_SCRIPT`, in the ``alpine/git`` init container): clone without
checkout, fetch the commit if no branch has it, check it out detached. URL and sha come from
the environment, never spliced into the script.

**Step** (:func:`step_script`): echo each command as ``+ command`` and run it under ``set -e``.
**Image build** (:func:`kaniko_args`): the kaniko executor's flags, read from the step's env.

**Artifacts**: a finished pod's files cannot be copied out (``kubectl cp`` needs a running
container; a sidecar cannot outlive a ``restartPolicy: Never`` pod reliably). So when a step
declares artifacts, its script ends — after the commands, passed or failed — with a
section on stdout that the runtime cuts out of the log stream before anything is logged::

    ::platform-artifacts <nonce> begin::
    H4sIAAAAAAAAA+3OMQrCQBCF4a1zin…        base64 of a gzipped tar of the matching files
    ::platform-artifacts <nonce> end ok::  ok | none (nothing matched) | too-large | error

The nonce is fresh per attempt, so output that merely looks like a marker is logged as usual.
In the pod ``find -path`` selects a superset of the files (``*`` there crosses ``/``; the
top-level ``.git`` is skipped); after unpacking, the local runtime's matcher
(:mod:`.local_artifacts`) picks the files, so both runtimes keep exactly the same ones, with
the same pattern checks and the same cap on their number.

Limits, and what they cost: the archive is capped at :data:`DEFAULT_MAX_BYTES` (100 MiB)
compressed and uncompressed — checked in the pod before encoding, and again here while
decoding, so an oversized or truncated section is a clear error, never a crash or a full
disk. Members are regular files only, with relative paths that stay inside the workspace;
links, devices and ``..`` are dropped. The step image needs ``sh``, ``find``, ``tar`` and
``base64`` (Debian, Alpine and BusyBox images have them; distroless images do not, and report
``error``). Large artifacts travel through the kubelet's log files: keep them below its
``containerLogMaxSize`` or raise it.
"""

from __future__ import annotations

import base64
import binascii
import io
import shlex
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from platform_sdk.errors import PayloadTooLarge, ValidationFailed
from platform_sdk.pipelines.runtime.base import StepSpec
from platform_sdk.pipelines.runtime.local_artifacts import check_patterns, collect

__all__ = [
    "CHECKOUT_SCRIPT",
    "DEFAULT_MAX_BYTES",
    "WORKSPACE",
    "ArtifactCollector",
    "artifact_script",
    "kaniko_args",
    "step_script",
]

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
_MARK = "::platform-artifacts"
WORKSPACE = "/workspace"
CHECKOUT_SCRIPT = """set -eu
git clone --quiet --no-checkout -- "$PLATFORM_GIT_URL" /workspace
cd /workspace
git cat-file -e "$PLATFORM_COMMIT_SHA^{commit}" 2>/dev/null \\
  || git fetch --quiet origin "$PLATFORM_COMMIT_SHA"
git checkout --quiet --detach "$PLATFORM_COMMIT_SHA"
echo "checked out $PLATFORM_COMMIT_SHA"
"""


def step_script(
    step: StepSpec, nonce: str = "", max_bytes: int = DEFAULT_MAX_BYTES, workspace: str = WORKSPACE
) -> str:
    """The script of a command step: echo then run each command, stop at the first failure.
    With artifacts the commands run in a subshell, the artifact section follows whatever
    their outcome, and the script exits with the commands' status."""
    body = ["set -e"]
    for command in step.commands:
        body.append(f"printf '%s\\n' {shlex.quote('+ ' + command)}")
        body.append(command)
    if not step.artifacts:
        return "\n".join(body) + "\n"
    section = artifact_script(step.artifacts, nonce, max_bytes)
    tail = [
        "platform_status=$?",
        f"cd {shlex.quote(workspace)}",
        section,
        'exit "$platform_status"',
        "",
    ]
    return "\n".join(["(", *body, ")", *tail])


def kaniko_args(step: StepSpec) -> list[str]:
    """The kaniko executor's arguments: context, Dockerfile and destinations from the step's
    env (``PLATFORM_BUILD_CONTEXT`` default ``.``, ``PLATFORM_BUILD_DOCKERFILE`` default
    ``<context>/Dockerfile``, ``PLATFORM_BUILD_DESTINATION``: one or more image references)."""
    context = step.env.get("PLATFORM_BUILD_CONTEXT", ".").strip() or "."
    context = "" if context in (".", "./") else context.strip("/")
    dockerfile = step.env.get("PLATFORM_BUILD_DOCKERFILE", "").strip()
    dockerfile = dockerfile or (f"{context}/Dockerfile" if context else "Dockerfile")
    for key, path in (
        ("PLATFORM_BUILD_CONTEXT", context),
        ("PLATFORM_BUILD_DOCKERFILE", dockerfile),
    ):
        if path.startswith("/") or ".." in path.split("/"):
            raise ValidationFailed(f"{key} must be a path inside the workspace, not {path!r}")
    destinations = step.env.get("PLATFORM_BUILD_DESTINATION", "").replace(",", " ").split()
    if not destinations:
        raise ValidationFailed(
            f"image_build step {step.name!r} needs PLATFORM_BUILD_DESTINATION "
            "(the image reference to push, e.g. registry.example.com/team/app:tag)"
        )
    args = [f"--context=dir://{WORKSPACE}/{context}".rstrip("/")]
    args.append(f"--dockerfile={WORKSPACE}/{dockerfile}")
    return args + [f"--destination={d}" for d in destinations]


def _find_path(pattern: str) -> str:
    """The ``find -path`` pattern selecting a superset of what the glob matches (in ``find``
    ``*`` also matches ``/``, so ``**/`` can shrink to ``*``)."""
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    return "./" + "/".join(parts).replace("**/", "*").replace("**", "*")


def artifact_script(patterns: tuple[str, ...], nonce: str, max_bytes: int) -> str:
    """Shell lines that print the artifact section (run from the workspace directory)."""
    check_patterns(patterns)
    tests = " -o ".join(f"-path {shlex.quote(_find_path(p))}" for p in patterns)
    select = f"-path ./.git -prune -o -type f \\( {tests} \\) -print"

    def mark(state: str) -> str:
        return f"echo '{_MARK} {nonce} {state}::'"

    return "\n".join(
        [
            'platform_tmp="$(mktemp -d 2>/dev/null || echo /tmp/platform-artifacts.$$)"',
            'mkdir -p "$platform_tmp"',
            f'find . {select} > "$platform_tmp/list" 2>/dev/null',
            mark("begin"),
            'if [ ! -s "$platform_tmp/list" ]; then',
            f"  {mark('end none')}",
            'elif ! tar -czf "$platform_tmp/a.tgz" -T "$platform_tmp/list" 2>/dev/null; then',
            f"  {mark('end error')}",
            f'elif [ "$(wc -c < "$platform_tmp/a.tgz")" -gt {int(max_bytes)} ]; then',
            f"  {mark('end too-large')}",
            'elif base64 "$platform_tmp/a.tgz"; then',
            f"  {mark('end ok')}",
            "else",
            f"  {mark('end error')}",
            "fi",
            'rm -rf "$platform_tmp"',
        ]
    )


class ArtifactCollector:
    """Cuts the artifact section out of a step's log stream and unpacks it.

    Feed every line to :meth:`feed`; lines it returns True for belong to the section and must
    not be logged. After the pod ended, :meth:`extract` writes the files and returns them.
    """

    def __init__(self, patterns: tuple[str, ...], nonce: str, max_bytes: int) -> None:
        self._patterns = patterns
        self._begin = f"{_MARK} {nonce} begin::"
        self._end = f"{_MARK} {nonce} end "
        self._max_bytes = max_bytes
        self._max_chars = (max_bytes + 2) // 3 * 4 + 1024
        self._chunks: list[str] = []
        self._chars = 0
        self._inside = False
        self._state: str | None = None
        self._overflow = False

    def feed(self, line: str) -> bool:
        """Take one log line; True when it was part of the section (not to be logged)."""
        text = line.strip()
        if not self._inside:
            if text == self._begin and self._state is None:
                self._inside = True
                return True
            return False
        if text.startswith(self._end) and text.endswith("::"):
            self._state = text[len(self._end) : -2]
            self._inside = False
            return True
        self._chars += len(text)
        if self._chars > self._max_chars:
            self._overflow = True
            self._chunks.clear()
        elif not self._overflow:
            self._chunks.append(text)
        return True

    def extract(self, dest: Path, log: Callable[[str], None]) -> tuple[tuple[str, Path], ...]:
        """Unpack the section into ``dest``; ``(name, file)`` of each kept artifact, selected
        by the local runtime's own matcher (:func:`.local_artifacts.collect`).

        Raises :class:`PayloadTooLarge` over the size cap and :class:`ValidationFailed` when
        the section is missing, cut short or damaged.
        """
        limit = f"{self._max_bytes // (1024 * 1024)} MiB"
        if self._overflow or self._state == "too-large":
            raise PayloadTooLarge(f"artifacts exceed the {limit} limit of the Kubernetes runtime")
        if self._state is None:
            what = "was cut short" if self._inside else "is missing from the step's output"
            raise ValidationFailed(f"the artifact section {what}")
        if self._state == "none":
            return ()
        if self._state != "ok":
            raise ValidationFailed(
                "the step's image could not archive the artifacts (it needs sh, find, tar and "
                "base64)"
                if self._state == "error"
                else f"unknown artifact section state {self._state!r}"
            )
        try:
            data = base64.b64decode("".join(self._chunks), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("the artifact section is not valid base64") from None
        self._unpack(data, dest, limit)
        return collect(dest, self._patterns, log)

    def _unpack(self, data: bytes, dest: Path, limit: str) -> None:
        total = 0
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                for member in archive:
                    name = _safe_name(member)
                    if name is None:
                        continue
                    total += member.size
                    if total > self._max_bytes:
                        raise PayloadTooLarge(f"artifacts exceed the {limit} limit unpacked")
                    source = archive.extractfile(member)
                    if source is None:
                        continue
                    target = dest / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with source, target.open("wb") as out:
                        while block := source.read(1 << 20):
                            out.write(block)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ValidationFailed(f"the artifact archive is damaged ({exc})") from None


def _safe_name(member: tarfile.TarInfo) -> str | None:
    """The member's workspace-relative name, or None for anything but a plain inner file."""
    if not member.isreg():
        return None
    parts = [p for p in PurePosixPath(member.name).parts if p not in ("", ".")]
    if not parts or member.name.startswith("/") or ".." in parts:
        return None
    return "/".join(parts)
