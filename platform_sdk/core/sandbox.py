"""Running an untrusted command in a bubblewrap sandbox: the argv, its environment, its limits.

Pipeline steps on the local runtime use it (and agent sessions will). :class:`Sandbox` turns a
command, a :class:`Layout` (the host directories it may use) and an environment into a
:class:`Launch` — the argv, working directory, environment and file descriptors to hand to
:class:`subprocess.Popen` — and says how the process tree is stopped (:attr:`Launch.isolated`).

With ``bubblewrap`` (the default, Debian/Ubuntu package ``bubblewrap``, binary ``bwrap``):

- new user, mount, PID, IPC, UTS (and, where the kernel allows, cgroup) namespaces,
  ``--die-with-parent`` and ``--new-session``; nested user namespaces are refused
  (``--disable-userns``) where the bwrap version supports it;
- the command runs as uid/gid :data:`UID` (user :data:`USER`) with no capabilities;
- the filesystem is built from nothing: ``/usr`` (and the ``/bin``, ``/sbin``, ``/lib*``
  links or directories) read-only, a short list of ``/etc`` files read-only (:data:`ETC`: the
  loader cache, certificates, name resolution, time zone, git's system config — never
  ``/etc/shadow`` or anything under ``/etc`` that is not listed), a synthetic ``/etc/passwd``
  and ``/etc/group``, a new ``/proc`` (showing only the sandbox's processes) and ``/dev``;
  then the layout's workspace read-write at :data:`WORKSPACE` (the working directory), its home
  at :data:`HOME` and its temp dir at ``/tmp`` (a private tmpfs without one), its read-only
  files, and finally ``/`` itself read-only. Nothing else of the host exists inside: no data
  dir, no repositories, no key files, no spool, no database, no other user's files;
- the environment is exactly the one given (bwrap is started with it and passes it on): the
  worker's own variables (database URL, master key, …) never reach it. It is not put on the
  command line, where any local user could read it in ``/proc/PID/cmdline``;
- the network is the host's (loopback included: a step can reach the platform's own HTTP
  port) unless ``network=False``, which gives a namespace with only its own loopback. Sharing
  the host's network means sharing whatever listens on it: a database or cache on 127.0.0.1
  that trusts local connections (PostgreSQL ``trust``, Redis without a password) is open to
  every step — give them passwords, or run steps with ``network: none``.

With ``none`` (``PLATFORM_LOCAL_SANDBOX=none``, for a single-user laptop) the command runs as
is, as the worker's user, in the host directories: only the environment and the limits apply.

Limits (:class:`Limits`) are set with util-linux ``prlimit`` in front of the command (or, where
it is missing, in the child before exec) and are inherited by every process of the sandbox:
CPU seconds and address space per process, open files, file size, processes, no core dumps.
The kernel counts processes per host uid, and does not apply that cap to root: run the server
as an ordinary user for the processes limit to hold.

Stopping: bwrap's outer process exits as soon as the command does, and ``--die-with-parent``
then kills the sandbox's init, which makes the kernel kill every process left in the PID
namespace — a background job or a ``setsid`` daemon cannot outlive the command. The outer
process dies the same way if the thread that started it exits (Linux ties the parent-death
signal to the thread): start it from a thread that waits for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from platform_sdk.core.rlimits import Limits
from platform_sdk.errors import Unavailable

__all__ = [
    "ETC",
    "HOME",
    "INSTALL_HINT",
    "UID",
    "USER",
    "WORKSPACE",
    "Launch",
    "Layout",
    "Sandbox",
    "SandboxMode",
    "SandboxUnavailable",
]

SandboxMode = Literal["bubblewrap", "none"]
WORKSPACE = "/workspace"
HOME = "/home/sandbox"
USER = "sandbox"
UID = 1000
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INSTALL_HINT = "apt-get install bubblewrap"
ETC = (
    "alternatives",
    "bash.bashrc",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "gai.conf",
    "gitconfig",
    "host.conf",
    "hosts",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "localtime",
    "magic",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "pki",
    "profile",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)
"""The ``/etc`` entries a sandbox sees (those that exist on the host), read-only."""

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_PASSWD = f"root:x:0:0::/:/usr/sbin/nologin\n{USER}:x:{UID}:{UID}::{HOME}:/bin/bash\n"
_PASSWD += "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
_GROUP = f"root:x:0:\n{USER}:x:{UID}:\nnogroup:x:65534:\n"
_PROBE_TTL = 60.0
_TRIAL = ("--unshare-user", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/", "true")


class SandboxUnavailable(Unavailable):
    """The sandbox cannot run commands here (bubblewrap missing or not working)."""

    code = "sandbox_unavailable"


@dataclass(frozen=True)
class Layout:
    """The host directories one sandboxed command uses.

    ``workspace`` is read-write and the working directory; ``home`` and ``tmp`` (optional) are
    read-write too; ``ro_binds`` maps a path inside the sandbox to a host file or directory
    shown read-only there (without a sandbox the command uses the host path: see
    :meth:`Sandbox.path_of`)."""

    workspace: Path
    home: Path | None = None
    tmp: Path | None = None
    ro_binds: Mapping[str, Path] = field(default_factory=dict)


@dataclass
class Launch:
    """What to hand to :class:`subprocess.Popen`; :meth:`close` after it started (or failed)."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    isolated: bool
    """True in a bubblewrap sandbox: the process tree is a PID namespace (see the module)."""
    pass_fds: tuple[int, ...] = ()
    preexec_fn: Callable[[], None] | None = None

    def close(self) -> None:
        for fd in self.pass_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.pass_fds = ()


@dataclass(frozen=True)
class _Probe:
    at: float
    key: tuple[str, float]
    version: str
    options: frozenset[str]
    error: str | None


class Sandbox:
    """How commands are sandboxed: ``bubblewrap`` or ``none``; see the module docstring.

    ``bwrap`` names the binary (default: ``bwrap`` looked up on the worker's ``PATH`` at each
    use); ``hide`` lists host paths that must not show inside even if they lie under a system
    directory the sandbox shows (the data dir installed under ``/usr``, say).
    """

    def __init__(
        self,
        mode: SandboxMode = "bubblewrap",
        *,
        limits: Limits | None = None,
        bwrap: str = "bwrap",
        hide: Sequence[Path] = (),
    ) -> None:
        if mode not in ("bubblewrap", "none"):
            raise ValueError(f"unknown sandbox {mode!r}; use bubblewrap or none")
        self.mode: SandboxMode = mode
        self.limits = limits or Limits()
        self.bwrap = bwrap
        self.hide = tuple(Path(p).absolute() for p in hide)
        self._probe: _Probe | None = None
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"Sandbox({self.mode!r})"

    @property
    def isolated(self) -> bool:
        return self.mode == "bubblewrap"

    # -- state --------------------------------------------------------------------------------

    def check(self) -> str:
        """The bwrap binary to use; raises :class:`SandboxUnavailable` naming the package when
        it is missing or cannot make a sandbox here. ``none`` answers ``""``."""
        if not self.isolated:
            return ""
        found = shutil.which(self.bwrap)
        if found is None:
            raise SandboxUnavailable(
                f"bubblewrap ({self.bwrap}) is not installed: the local runtime runs steps in "
                f"a bubblewrap sandbox. Install it ({INSTALL_HINT}), or set "
                "PLATFORM_LOCAL_SANDBOX=none to run steps unsandboxed on a single-user machine",
                details={"package": "bubblewrap"},
            )
        probe = self._probed(found)
        if probe.error is not None:
            raise SandboxUnavailable(
                f"bubblewrap ({found}) cannot make a sandbox here: {probe.error}",
                details={"package": "bubblewrap"},
            )
        return found

    def describe(self) -> str:
        """``bubblewrap 0.8.0`` or ``none (PLATFORM_LOCAL_SANDBOX=none)``; raises
        :class:`SandboxUnavailable` as :meth:`check` does."""
        if not self.isolated:
            return "none (PLATFORM_LOCAL_SANDBOX=none)"
        found = self.check()
        return self._probed(found).version

    def _probed(self, found: str) -> _Probe:
        try:
            key = (found, os.stat(found).st_mtime)
        except OSError:
            key = (found, 0.0)
        with self._guard:
            cached = self._probe
            if cached and cached.key == key and time.monotonic() - cached.at < _PROBE_TTL:
                return cached
            probe = _probe(found, key)
            self._probe = probe
            return probe

    # -- building a launch --------------------------------------------------------------------

    def path_of(self, inside: str, layout: Layout) -> str:
        """Where the command finds ``layout.ro_binds[inside]``: ``inside`` in a sandbox, the
        host path without one."""
        return inside if self.isolated else str(layout.ro_binds[inside])

    def base_env(self, layout: Layout) -> dict[str, str]:
        """``PATH``, ``HOME``, ``TMPDIR``, ``LANG`` as the command sees them."""
        if not self.isolated:
            env = {"PATH": os.environ.get("PATH", SYSTEM_PATH)}
            if layout.home is not None:
                env["HOME"] = str(layout.home)
            if layout.tmp is not None:
                env["TMPDIR"] = str(layout.tmp)
            return {**env, "LANG": "C.UTF-8"}
        return {"PATH": SYSTEM_PATH, "HOME": HOME, "TMPDIR": "/tmp", "LANG": "C.UTF-8"}  # noqa: S108

    def launch(
        self,
        command: Sequence[str],
        layout: Layout,
        env: Mapping[str, str],
        *,
        network: bool = True,
    ) -> Launch:
        """The launch of ``command`` (whose first word is looked up on ``env['PATH']`` inside).

        Raises :class:`SandboxUnavailable` (bubblewrap missing or broken) or ValueError
        (a variable name or value that cannot be exported)."""
        for key, value in env.items():
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise ValueError(f"environment variable {key!r} has an invalid name or value")
        prefix, preexec = self._limiter()
        if not self.isolated:
            return Launch([*prefix, *command], str(layout.workspace), dict(env), False, (), preexec)
        found = self.check()
        options = self._probed(found).options
        fds: list[int] = []
        try:
            argv = [*prefix, found, *_bwrap_args(layout, network, options, self.hide, fds)]
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return Launch([*argv, "--", *command], WORKSPACE, dict(env), True, tuple(fds), preexec)

    def _limiter(self) -> tuple[list[str], Callable[[], None] | None]:
        if not self.limits.rlimits():
            return [], None
        prlimit = shutil.which("prlimit", path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}")
        if prlimit is not None:
            return [prlimit, *self.limits.prlimit_args(), "--"], None
        return [], self.limits.apply  # in the child before exec: fine for setrlimit only


def _probe(found: str, key: tuple[str, float]) -> _Probe:
    """bwrap's version, its options, and whether it can make a namespace here."""
    try:
        version = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        helptext = subprocess.run(
            [found, "--help"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        options = frozenset(re.findall(r"^\s+(--[a-z0-9-]+)", helptext, re.MULTILINE))
        trial = subprocess.run(
            [found, *_TRIAL],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={"PATH": SYSTEM_PATH},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _Probe(time.monotonic(), key, "", frozenset(), f"{type(exc).__name__}: {exc}")
    error = None
    if trial.returncode != 0:
        error = (trial.stderr.strip() or f"exit code {trial.returncode}").splitlines()[-1]
        error += " (are unprivileged user namespaces enabled? see kernel.unprivileged_userns_clone)"
    return _Probe(time.monotonic(), key, version or "bubblewrap", options, error)


def _data_fd(text: str, fds: list[int]) -> str:
    """A pipe whose read end holds ``text`` (small: it fits in the pipe buffer)."""
    read, write = os.pipe()
    fds.append(read)
    try:
        os.write(write, text.encode())
    finally:
        os.close(write)
    return str(read)


def _bwrap_args(
    layout: Layout, network: bool, options: frozenset[str], hide: tuple[Path, ...], fds: list[int]
) -> list[str]:
    args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try"] + ([] if network else ["--unshare-net"])
    if "--disable-userns" in options:
        args.append("--disable-userns")
    args += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    args += ["--uid", str(UID), "--gid", str(UID)]
    shown: list[Path] = []
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
            shown.append(Path(path))
    for name in ETC:
        host = Path("/etc") / name
        if host.exists():  # a symlink (resolv.conf -> /run/...) is followed to its target
            args += ["--ro-bind", str(host.resolve()), str(host)]
            shown.append(host)
    args += ["--ro-bind-data", _data_fd(_PASSWD, fds), "/etc/passwd"]
    args += ["--ro-bind-data", _data_fd(_GROUP, fds), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for hidden in hide:
        if any(hidden == s or hidden.is_relative_to(s) for s in shown):
            cover = ["--tmpfs"] if hidden.is_dir() else ["--ro-bind-data", _data_fd("", fds)]
            args += [*cover, str(hidden)]
    args += ["--bind", str(layout.workspace), WORKSPACE]
    args += ["--bind", str(layout.home), HOME] if layout.home else ["--dir", HOME]
    args += ["--bind", str(layout.tmp), "/tmp"] if layout.tmp else ["--tmpfs", "/tmp"]  # noqa: S108
    for inside, host in layout.ro_binds.items():
        args += ["--ro-bind", str(host), inside]
    args += ["--remount-ro", "/", "--chdir", WORKSPACE]
    return args
