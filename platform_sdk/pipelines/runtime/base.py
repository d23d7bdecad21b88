"""The contract between the pipeline scheduler and the places steps run.

The worker (``pipelines/worker.py``) claims a step in the database, builds a :class:`StepSpec`
and hands it to a :class:`StepRuntime` together with a :class:`StepIO`. The runtime runs the
step's commands — a process group in a workspace (``local.py``) or a pod (``kubernetes.py``) —
streams output lines to ``io.log`` as they come, stops when ``io.cancelled`` is set or the
timeout passes, collects the artifact files and answers a :class:`StepResult`. It never
touches the database: claiming, retries, statuses, log storage and artifact upload belong to
the worker, so both runtimes share them.

A run's workspace is prepared once (:meth:`StepRuntime.prepare`) and removed when the run
ends (:meth:`StepRuntime.cleanup`). On the local runtime steps of one run that land on the
same worker share one checkout, in DAG order, so a later step sees what an earlier one built;
on the Kubernetes runtime each step's pod checks the commit out afresh (an ``emptyDir``).
Files meant to outlive a step travel as artifacts.
"""

from __future__ import annotations

import base64
import binascii
import enum
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "MASK",
    "Masker",
    "Outcome",
    "RunSpec",
    "StepIO",
    "StepKind",
    "StepResult",
    "StepRuntime",
    "StepSpec",
]

MASK = "***"


@dataclass(frozen=True)
class RunSpec:
    """What a runtime needs to know about the run a step belongs to."""

    run_id: uuid.UUID
    number: int
    project: str
    """``owner/name`` of the project."""
    repo_path: Path
    """The project's bare repository (the checkout source)."""
    commit_sha: str
    ref: str


class StepKind(enum.StrEnum):
    COMMAND = "command"
    IMAGE_BUILD = "image_build"


@dataclass(frozen=True)
class StepSpec:
    """One attempt of one step, as the runtime runs it."""

    step_id: uuid.UUID
    name: str
    commands: tuple[str, ...]
    image: str | None = None
    kind: StepKind = StepKind.COMMAND
    env: dict[str, str] = field(default_factory=dict)
    """Plain variables: the pipeline's and the step's ``env``, the matrix values and the
    standard ``PLATFORM_*`` / ``CI_*`` variables."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Variables whose values are secrets: exported like ``env`` but masked in every log line."""
    timeout_seconds: float = 3600.0
    artifacts: tuple[str, ...] = ()
    """Glob patterns, relative to the workspace, of files to keep."""
    attempt: int = 1
    network: bool = True
    """False for a step that declares ``network: none``: it gets no network at all."""


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    ERROR = "error"
    """The runtime could not run the step at all (no image, checkout failed, API refused)."""


@dataclass(frozen=True)
class StepResult:
    outcome: Outcome
    exit_code: int | None = None
    artifacts: tuple[tuple[str, Path], ...] = ()
    """``(name relative to the workspace, local file)`` of each collected artifact."""
    error: str | None = None


@dataclass
class StepIO:
    """How a running step talks back: output lines out, cancellation in."""

    log: Callable[[str], None]
    """Called with each output line (no trailing newline), secrets already masked."""
    cancelled: threading.Event = field(default_factory=threading.Event)


class StepRuntime(Protocol):
    """Where steps run: ``local`` (processes) or ``kubernetes`` (pods)."""

    name: str

    def prepare(self, run: RunSpec) -> None:
        """Make the run's workspace (idempotent: a second call for the same run is a no-op)."""

    def run_step(self, run: RunSpec, step: StepSpec, io: StepIO) -> StepResult:
        """Run one attempt of a step to its end; blocks the calling thread."""

    def cleanup(self, run: RunSpec) -> None:
        """Remove the run's workspace and anything else it left (idempotent)."""


MIN_ENCODED = 6
"""Encoded forms shorter than this are not masked: they would match ordinary text."""


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 text (standard and URL-safe alphabets) that ``raw`` produces wherever it
    sits in a longer input: for each of the three alignments (0, 1 or 2 bytes before it), the
    characters whose six bits all come from ``raw`` — so ``base64("user:" + secret)`` and
    ``base64(secret + "\n")`` contain one of them, whatever surrounds the secret."""
    cores: set[str] = set()
    for offset in range(3):
        text = base64.b64encode(bytes(offset) + raw + bytes(2)).decode()
        first = -(-8 * offset // 6)  # the first character that starts inside ``raw``
        last = (8 * (offset + len(raw))) // 6  # one past the last that ends inside it
        core = text[first:last]
        if len(core) >= MIN_ENCODED:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def encoded_forms(value: str) -> set[str]:
    """The forms of a secret a step is likely to print besides the value: base64 (both
    alphabets, any alignment), hex (lower and upper case) and URL encoding. Other transforms
    (compression, encryption, a value printed reversed or a character at a time) are not
    recognised: masking is a guard against accidents, not against a step that wants to leak."""
    raw = value.encode()
    forms = _base64_cores(raw)
    hexed = binascii.hexlify(raw).decode()
    forms |= {hexed, hexed.upper()}
    forms |= {urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    return {f for f in forms if len(f) >= MIN_ENCODED and f != value}


class Masker:
    """Replaces every secret value in a line by :data:`MASK`, longest value first (so a secret
    that contains another is masked whole), then the :func:`encoded_forms` of each secret.
    Values shorter than 3 characters are not masked: masking every ``1`` or ``a`` would make
    logs unreadable and hides nothing."""

    def __init__(self, secrets: dict[str, str] | list[str] | tuple[str, ...]) -> None:
        values = secrets.values() if isinstance(secrets, dict) else secrets
        plain = {v for v in values if len(v) >= 3}
        encoded = {f for v in plain for f in encoded_forms(v)} - plain
        self._values = sorted(plain | encoded, key=len, reverse=True)
        self._lines = [part for v in plain for part in v.splitlines() if len(part) >= 3]

    def __call__(self, line: str) -> str:
        for value in self._values:
            if value in line:
                line = line.replace(value, MASK)
        for part in self._lines:  # a multi-line secret printed line by line
            if part in line:
                line = line.replace(part, MASK)
        return line
