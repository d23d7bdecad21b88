"""One step as one process group: start, stream, stop on timeout or cancel, leave nothing behind.

The step's script runs as ``bash -eo pipefail SCRIPT`` in a new session
(``start_new_session=True``), so the shell and everything it starts — pipelines, ``cmd &``
background jobs, their children — share one process group whose id is the shell's pid. The
runtime signals the group, never single pids:

- **timeout / cancel**: ``SIGTERM`` to the group, up to ``kill_grace`` seconds for it to empty,
  then ``SIGKILL`` to the group;
- **the shell exits** (success or failure): the same sequence for whatever is left in the group
  (``sleep 1000 &``), so no process outlives its step;
- **the runtime itself fails** (an exception in ``io.log``): ``SIGKILL`` to the group at once.

A process that leaves the group on purpose (``setsid``, a double-forking daemon) escapes; only
cgroups (the kubernetes runtime) can contain that. Such a process may also keep the output pipe
open: after the group is stopped the reader gets :data:`DRAIN_SECONDS` to deliver the last lines
and is then told to stop, so ``run_step`` never hangs on a pipe.

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

from platform_sdk.pipelines.runtime.base import Outcome, StepIO
from platform_sdk.pipelines.runtime.local_output import EOF, LineSplitter, PipeReader

__all__ = ["DRAIN_SECONDS", "NOTICE", "ProcessEnd", "group_alive", "run_script"]

DRAIN_SECONDS = 2.0
"""How long output is still read after the step's process group was stopped."""

NOTICE = "[runtime] "
"""Prefix of the lines the runtime itself writes into a step's log."""

_TICK = 0.05


@dataclass(frozen=True)
class ProcessEnd:
    outcome: Outcome
    exit_code: int | None = None
    error: str | None = None


def group_alive(pgid: int) -> bool:
    """Whether the process group still has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _Supervisor:
    def __init__(
        self, proc: subprocess.Popen[bytes], reader: PipeReader, io: StepIO, kill_grace: float
    ) -> None:
        self.proc = proc
        self.reader = reader
        self.io = io
        self.kill_grace = kill_grace
        self.eof = False

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
            if self.io.cancelled.is_set():
                return Outcome.CANCELLED
            if time.monotonic() >= deadline:
                return Outcome.TIMEOUT
            self.pump(_TICK)
        return None

    def stop_group(self) -> None:
        """SIGTERM, up to ``kill_grace`` seconds for the group to empty, then SIGKILL."""
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

    def drain(self) -> None:
        end = time.monotonic() + DRAIN_SECONDS
        while not self.eof and time.monotonic() < end:
            self.pump(_TICK)
        if not self.eof:
            self.reader.stop()
            self.reader.join(1.0)
            self.pump(0)  # lines read just before stopping


def run_script(
    script: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    io: StepIO,
    timeout: float,
    kill_grace: float,
    bash: str,
) -> ProcessEnd:
    """Run ``script`` with bash to its end, streaming masked lines to ``io.log``."""
    try:
        proc = subprocess.Popen(
            [bash, "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    except (OSError, ValueError) as exc:
        return ProcessEnd(Outcome.ERROR, error=f"could not start the step: {exc}")
    assert proc.stdout is not None
    reader = PipeReader(proc.stdout, LineSplitter(secrets))
    reader.start()
    sup = _Supervisor(proc, reader, io, kill_grace)
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
