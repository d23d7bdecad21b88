"""The embedded step runtime: each step is a bash process tree in a sandbox over a local checkout.

:class:`LocalRuntime` implements :class:`~platform_sdk.pipelines.runtime.base.StepRuntime`
without containers (``step.image`` is ignored): the step's commands run on the worker's host
with the host's tools. It is the default when no cluster is configured — laptops, tests, small
single-host installs.

Each step runs in a bubblewrap sandbox (:mod:`platform_sdk.core.sandbox`): it sees the host's
system read-only, the run's checkout read-write at ``/workspace`` (its working directory), the
run's home at ``/home/sandbox`` and its temp dir at ``/tmp``, as an unprivileged uid, and
nothing else of the host — not the data dir, the other projects' repositories, the key files,
the spool, the database or the server's processes. The network is the host's (the platform's
own HTTP port on 127.0.0.1 included) unless the step declares ``network: none``. The limits of
``PLATFORM_LOCAL_LIMITS`` apply to every process. Without bubblewrap a step is refused with an
error that names the package, unless ``PLATFORM_LOCAL_SANDBOX=none`` says to run steps
unsandboxed, as the worker's user, in the host directories (a single-user laptop).

The pieces, one module each:

- :mod:`.local_workspace` — ``{root}/{run_id}/``: checkout, home, tmp, scripts; removal.
- :mod:`.local_procs` — the process tree: start, stream, timeout/cancel, nothing left over.
- :mod:`.local_output` — bytes to masked lines, long lines cut at 64 KiB.
- :mod:`.local_artifacts` — ``artifacts`` globs matched inside the workspace only.

A step's environment is built from nothing, never inherited from the worker (which holds the
platform's database URL and master key): ``PATH`` (the system's in a sandbox, the worker's
without one), ``HOME`` and ``TMPDIR`` (the run's own directories), ``LANG=C.UTF-8``, then
``step.env``, then ``step.secrets`` (real values for the process; masked in every log line).

Image builds (``StepKind.IMAGE_BUILD``): there is no build service here. In a sandbox they end
``FAILURE`` with :data:`SANDBOXED_BUILD`: a container engine's socket would hand the step the
host. Without a sandbox the runtime uses a container engine if one is on the step's ``PATH`` —
``docker``, then ``podman``, then ``buildah`` — and runs ``<engine> build -f DOCKERFILE -t
DESTINATION… CONTEXT`` and ``<engine> push DESTINATION`` for each as the step's commands (same
logs, timeout, cancellation; the engine's own login/credentials apply). The build parameters
come from ``step.env``: ``PLATFORM_BUILD_CONTEXT`` (default ``.``),
``PLATFORM_BUILD_DOCKERFILE`` (default ``CONTEXT/Dockerfile``), both relative to the workspace
and kept inside it, and ``PLATFORM_BUILD_DESTINATION`` (required, one or more image references
separated by commas or spaces, as for the kubernetes runtime; missing gives ``ERROR``). Without
any engine the step ends ``FAILURE`` with a log line saying so: the definition is fine, this
host cannot build it.
"""

from __future__ import annotations

import shlex
import shutil
import threading
import uuid
from pathlib import Path, PurePosixPath

from platform_sdk.core.rlimits import Limits
from platform_sdk.core.sandbox import Layout, Sandbox, SandboxMode
from platform_sdk.errors import PlatformError, ValidationFailed
from platform_sdk.git.repos import GIT_TIMEOUT
from platform_sdk.pipelines.runtime.base import (
    Outcome,
    RunSpec,
    StepIO,
    StepKind,
    StepResult,
    StepSpec,
)
from platform_sdk.pipelines.runtime.local_artifacts import check_patterns, collect
from platform_sdk.pipelines.runtime.local_procs import NOTICE, run_script
from platform_sdk.pipelines.runtime.local_workspace import (
    RunDirs,
    checkout,
    remove_tree,
    write_script,
)

__all__ = [
    "BUILD_CONTEXT",
    "BUILD_DESTINATION",
    "BUILD_DOCKERFILE",
    "NO_ENGINE",
    "SANDBOXED_BUILD",
    "SCRIPT",
    "LocalRuntime",
]

BUILD_CONTEXT = "PLATFORM_BUILD_CONTEXT"
BUILD_DOCKERFILE = "PLATFORM_BUILD_DOCKERFILE"
BUILD_DESTINATION = "PLATFORM_BUILD_DESTINATION"
NO_ENGINE = "image_build steps need the kubernetes runtime or a local docker/podman"
SANDBOXED_BUILD = (
    "image_build steps need the kubernetes runtime: in the local runtime's sandbox no container "
    "engine is reachable (its socket would hand the step the host); PLATFORM_LOCAL_SANDBOX=none "
    "uses a local docker/podman on a single-user machine"
)
SCRIPT = "/run/platform/step.sh"
"""Where a sandboxed step's script is (read-only)."""

_ENGINES = {"docker": "build", "podman": "build", "buildah": "bud"}


class _Finished(Exception):
    """A step that ends before any process starts."""

    def __init__(self, result: StepResult) -> None:
        super().__init__(result.error)
        self.result = result


class LocalRuntime:
    """Steps as local process groups in per-run workspaces under ``root``."""

    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        keep_workspaces: bool = False,
        kill_grace: float = 5.0,
        git_timeout: float = GIT_TIMEOUT,
        sandbox: Sandbox | SandboxMode = "bubblewrap",
        limits: Limits | None = None,
    ) -> None:
        if kill_grace < 0:
            raise ValueError(f"kill_grace must be >= 0, not {kill_grace}")
        self.root = Path(root).absolute()
        self.sandbox = sandbox if isinstance(sandbox, Sandbox) else Sandbox(sandbox, limits=limits)
        self.keep_workspaces = keep_workspaces
        self.kill_grace = kill_grace
        self.git_timeout = git_timeout
        self._guard = threading.Lock()
        self._locks: dict[uuid.UUID, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"LocalRuntime(root={str(self.root)!r}, sandbox={self.sandbox.mode!r})"

    def dirs(self, run: RunSpec) -> RunDirs:
        """The run's directories (``workspace``, ``home``, ``tmp``, …), made or not."""
        return RunDirs(self.root / str(run.run_id))

    def _lock(self, run_id: uuid.UUID) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(run_id, threading.Lock())

    # -- the StepRuntime protocol ---------------------------------------------------------------

    def prepare(self, run: RunSpec) -> None:
        """Check out ``run.commit_sha`` into the run's workspace, once per run.

        Threads running parallel steps of one run may all call it: the first checks out, the
        others wait for it and return. A half-made workspace (a crash mid-checkout) is redone.
        Raises :class:`~platform_sdk.errors.BadRequest` or
        :class:`~platform_sdk.errors.Unavailable` with git's message.
        """
        dirs = self.dirs(run)
        with self._lock(run.run_id):
            if dirs.is_prepared(run.commit_sha):
                return
            remove_tree(dirs.run)
            checkout(run.repo_path, run.commit_sha, dirs, timeout=self.git_timeout)

    def run_step(self, run: RunSpec, step: StepSpec, io: StepIO) -> StepResult:
        """Run one attempt of ``step`` in the run's workspace; see the module docstring."""
        if io.cancelled.is_set():
            return StepResult(Outcome.CANCELLED, error="cancelled before it started")
        dirs = self.dirs(run)
        try:
            check_patterns(step.artifacts)
            if step.timeout_seconds <= 0:
                raise ValidationFailed(f"step timeout must be positive, not {step.timeout_seconds}")
            self.sandbox.check()
            self.prepare(run)
            script = dirs.scripts / f"{step.step_id}-{step.attempt}.sh"
            layout = Layout(dirs.workspace, dirs.home, dirs.tmp, {SCRIPT: script})
            env = self._env(layout, step)
            commands = self._commands(step, env, io)
            bash = shutil.which("bash", path=env["PATH"]) if not self.sandbox.isolated else "bash"
            if bash is None:
                raise _Finished(StepResult(Outcome.ERROR, error="bash is not installed"))
            write_script(script, step.name, commands)
            launch = self.sandbox.launch(
                [bash, "-eo", "pipefail", self.sandbox.path_of(SCRIPT, layout)],
                layout,
                env,
                network=step.network,
            )
        except _Finished as done:
            return done.result
        except PlatformError as exc:
            io.log(f"{NOTICE}{exc.message}")
            return StepResult(Outcome.ERROR, error=exc.message)
        except OSError as exc:
            io.log(f"{NOTICE}cannot write the step's script: {exc}")
            return StepResult(Outcome.ERROR, error=f"cannot write the step's script: {exc}")
        end = run_script(
            launch,
            secrets=step.secrets,
            io=io,
            timeout=step.timeout_seconds,
            kill_grace=self.kill_grace,
        )
        if end.outcome is Outcome.ERROR and end.error:
            io.log(f"{NOTICE}{end.error}")
        artifacts: tuple[tuple[str, Path], ...] = ()
        if step.artifacts and end.outcome in (Outcome.SUCCESS, Outcome.FAILURE, Outcome.TIMEOUT):
            try:
                artifacts = collect(
                    dirs.workspace, step.artifacts, lambda line: io.log(NOTICE + line)
                )
            except OSError as exc:
                io.log(f"{NOTICE}artifacts not collected: {exc}")
        return StepResult(end.outcome, end.exit_code, artifacts, end.error)

    def cleanup(self, run: RunSpec) -> None:
        """Remove the run's directory (read-only files included) unless ``keep_workspaces``."""
        if self.keep_workspaces:
            return
        with self._lock(run.run_id):
            remove_tree(self.dirs(run).run)
        with self._guard:
            self._locks.pop(run.run_id, None)

    # -- helpers ---------------------------------------------------------------------------------

    def _env(self, layout: Layout, step: StepSpec) -> dict[str, str]:
        env = self.sandbox.base_env(layout)
        env.update(step.env)
        env.update(step.secrets)
        for key, value in env.items():
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise ValidationFailed(f"environment variable {key!r} has an invalid name or value")
        return env

    def _commands(self, step: StepSpec, env: dict[str, str], io: StepIO) -> tuple[str, ...]:
        if step.kind == StepKind.COMMAND:
            return step.commands
        if step.kind == StepKind.IMAGE_BUILD:
            return _image_build(step, env, io, sandboxed=self.sandbox.isolated)
        raise ValidationFailed(f"step {step.name!r} has an unknown kind {step.kind!r}")


def _inside(name: str, value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValidationFailed(f"{name}={value!r} must be a path inside the workspace")
    return str(path)


def _image_build(
    step: StepSpec, env: dict[str, str], io: StepIO, *, sandboxed: bool
) -> tuple[str, ...]:
    destinations = step.env.get(BUILD_DESTINATION, "").replace(",", " ").split()
    if not destinations:
        raise ValidationFailed(
            f"image_build step {step.name!r} needs {BUILD_DESTINATION} "
            "(the image reference to push, e.g. registry.example.com/team/app:tag)"
        )
    context = _inside(BUILD_CONTEXT, step.env.get(BUILD_CONTEXT, "").strip() or ".")
    dockerfile = _inside(
        BUILD_DOCKERFILE, step.env.get(BUILD_DOCKERFILE, "").strip() or f"{context}/Dockerfile"
    )
    if sandboxed:
        io.log(f"{NOTICE}{SANDBOXED_BUILD}")
        raise _Finished(StepResult(Outcome.FAILURE, error=SANDBOXED_BUILD))
    engine = next((e for e in _ENGINES if shutil.which(e, path=env["PATH"])), None)
    if engine is None:
        io.log(f"{NOTICE}{NO_ENGINE}: no docker, podman or buildah on PATH")
        raise _Finished(StepResult(Outcome.FAILURE, error=NO_ENGINE))
    q = shlex.quote
    tags = " ".join(f"-t {q(d)}" for d in destinations)
    build = f"{engine} {_ENGINES[engine]} -f {q(dockerfile)} {tags} {q(context)}"
    return (build, *(f"{engine} push {q(d)}" for d in destinations))
