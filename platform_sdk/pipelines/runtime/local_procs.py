"""One step as one process tree: start, stream, stop on timeout or cancel, leave nothing behind.

The step's command line comes from :class:`~platform_sdk.core.sandbox.Launch` and starts in a
new session (``start_new_session=True``), so it and everything it starts share one process
group whose id is its pid. The runtime signals groups, never single pids.

**In a bubblewrap sandbox** (``launch.isolated``) the tree is the sandbox's PID namespace: the
outer bwrap process (the group leader here) has one child, the namespace's init, whose own
session holds the step's shell and what it starts. Then:

- **timeout / cancel**: ``SIGTERM`` to the init's group (the shell and its jobs); up to
  ``kill_grace`` seconds for the shell to exit; then ``SIGKILL`` to bwrap and the init;
- **the shell exits** (success, failure, or the ``SIGTERM`` above): bwrap exits with it and
  ``--die-with-parent`` kills the init, and with it every process left in the namespace —
  background jobs and ``setsid`` daemons alike, at once, without a grace period;
- the runtime waits until the init is gone, so nothing of the step runs once it returns.

**Without a sandbox** (``PLATFORM_LOCAL_SANDBOX=none``) the group is the shell's:

- **timeout / cancel**: ``SIGTERM`` to the group, up to ``kill_grace`` seconds for it to empty,
  then ``SIGKILL`` to the group;
- **the shell exits** (success or failure): the same sequence for whatever is left in the group
  (``sleep 1000 &``), so no process outlives its step;
- a process that leaves the group on purpose (``setsid``, a double-forking daemon) escapes;
  only the sandbox's PID namespace (or the kubernetes runtime's pods) contains that.

Either way **the runtime itself failing** (an exception in ``io.log``) sends ``SIGKILL`` to the
group at once. A process that escaped may keep the output pipe open: after the tree is stopped
the reader gets :data:`DRAIN_SECONDS` to deliver the last lines and is then told to stop, so
``run_step`` never hangs on a pipe.

The group counts as empty when no member is left but zombies: orphans are reaped by PID 1 on
its own schedule, and waiting for that would only slow the step down.

Everything — output lines, the runtime's own notices — reaches ``io.log`` from the calling
thread, in order; the reader thread only fills a queue.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from platform_sdk.core.sandbox import Launch
from platform_sdk.pipelines.runtime.base import Outcome, StepIO
from platform_sdk.pipelines.runtime.local_output import EOF, LineSplitter, PipeReader

__all__ = ["DRAIN_SECONDS", "NOTICE", "ProcessEnd", "children_of", "group_alive", "run_script"]

DRAIN_SECONDS = 2.0
"""How long output is still read after the step's process group was stopped."""

NOTICE = "[runtime] "
"""Prefix of the lines the runtime itself writes into a step's log."""

_TICK = 0.05
_TEARDOWN_SECONDS = 10.0
"""How long a killed sandbox may take to empty its PID namespace."""


@dataclass(frozen=True)
class ProcessEnd:
    outcome: Outcome
    exit_code: int | None = None
    error: str | None = None


def _processes() -> list[tuple[int, str, int, int]]:
    """``(pid, state, ppid, pgid)`` of every process in ``/proc``."""
    out = []
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if len(fields) > 2:
            out.append((int(entry.name), fields[0], int(fields[1]), int(fields[2])))
    return out


def group_alive(pgid: int) -> bool:
    """Whether the process group still has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc").is_dir():
        return True
    return any(group == pgid and state != "Z" for _, state, _, group in _processes())


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (zombies included)."""
    return [child for child, _, parent, _ in _processes() if parent == pid]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[:1] != ["Z"]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _Supervisor:
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        reader: PipeReader,
        io: StepIO,
        kill_grace: float,
        isolated: bool,
    ) -> None:
        self.proc = proc
        self.reader = reader
        self.io = io
        self.kill_grace = kill_grace
        self.isolated = isolated
        self.init: int | None = None
        """The sandbox's init (bwrap's child), found while the step runs."""
        self.eof = False

    def find_init(self) -> None:
        if self.isolated and self.init is None and self.proc.poll() is None:
            found = children_of(self.proc.pid)
            self.init = found[0] if found else None

    def pump(self, wait: float) -> None:
        """Log the lines that arrive within ``wait`` seconds (returns early at end of output)."""
        if self.eof:
            time.sleep(wait)
            return
        try:
            item = self.reader.lines.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            if item is EOF:
                self.eof = True
                return
            self.io.log(item)
            try:
                item = self.reader.lines.get_nowait()
            except queue.Empty:
                return

    def wait_main(self, deadline: float) -> Outcome | None:
        """Until the shell exits (None), the deadline passes or the step is cancelled."""
        while self.proc.poll() is None:
            self.find_init()
            if self.io.cancelled.is_set():
                return Outcome.CANCELLED
            if time.monotonic() >= deadline:
                return Outcome.TIMEOUT
            self.pump(_TICK)
        return None

    def stop_group(self) -> None:
        """Stop the tree (see the module docstring) and wait until it is gone."""
        if self.isolated:
            self._stop_sandbox()
            return
        pgid = self.proc.pid
        _signal_group(pgid, signal.SIGTERM)
        end = time.monotonic() + self.kill_grace
        while True:
            self.proc.poll()  # reap the shell, so its zombie does not count
            if not group_alive(pgid):
                break
            if time.monotonic() >= end:
                _signal_group(pgid, signal.SIGKILL)
                break
            self.pump(_TICK)
        self.proc.wait()

    def _stop_sandbox(self) -> None:
        self.find_init()
        init = self.init
        if init is not None and self.proc.poll() is None:
            _signal_group(init, signal.SIGTERM)  # the init ignores it; its group does not
        end = time.monotonic() + self.kill_grace
        while self.proc.poll() is None and time.monotonic() < end:
            self.pump(_TICK)
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGKILL)
            if init is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(init, signal.SIGKILL)  # delivered from the parent namespace
        self.proc.wait()
        end = time.monotonic() + _TEARDOWN_SECONDS
        while init is not None and _alive(init) and time.monotonic() < end:
            self.pump(_TICK)  # the kernel empties the namespace before its init exits

    def drain(self) -> None:
        end = time.monotonic() + DRAIN_SECONDS
        while not self.eof and time.monotonic() < end:
            self.pump(_TICK)
        if not self.eof:
            self.reader.stop()
            self.reader.join(1.0)
            self.pump(0)  # lines read just before stopping


def run_script(
    launch: Launch,
    *,
    secrets: Mapping[str, str],
    io: StepIO,
    timeout: float,
    kill_grace: float,
) -> ProcessEnd:
    """Run the launch's command to its end, streaming masked lines to ``io.log``."""
    try:
        proc = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd if not launch.isolated else None,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            pass_fds=launch.pass_fds,
            preexec_fn=launch.preexec_fn,  # setrlimit only, and only where prlimit is missing
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return ProcessEnd(Outcome.ERROR, error=f"could not start the step: {exc}")
    finally:
        launch.close()
    assert proc.stdout is not None
    reader = PipeReader(proc.stdout, LineSplitter(secrets))
    reader.start()
    sup = _Supervisor(proc, reader, io, kill_grace, launch.isolated)
    try:
        stopped = sup.wait_main(time.monotonic() + timeout)
        if stopped is Outcome.TIMEOUT:
            io.log(f"{NOTICE}timed out after {timeout:g} s: stopping the step's processes")
        elif stopped is Outcome.CANCELLED:
            io.log(f"{NOTICE}cancelled: stopping the step's processes")
        sup.stop_group()
        sup.drain()
    except BaseException:
        _signal_group(proc.pid, signal.SIGKILL)
        if sup.init is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(sup.init, signal.SIGKILL)
        reader.stop()
        proc.wait()
        reader.join(1.0)
        raise
    finally:
        proc.stdout.close()
    if stopped is Outcome.TIMEOUT:
        return ProcessEnd(Outcome.TIMEOUT, error=f"timed out after {timeout:g} s")
    if stopped is Outcome.CANCELLED:
        return ProcessEnd(Outcome.CANCELLED, error="cancelled")
    code = proc.returncode
    if code == 0:
        return ProcessEnd(Outcome.SUCCESS, exit_code=0)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return ProcessEnd(Outcome.FAILURE, exit_code=128 - code, error=f"killed by {name}")
    return ProcessEnd(Outcome.FAILURE, exit_code=code, error=f"exited with code {code}")
