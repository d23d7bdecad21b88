"""The control loop of one Kubernetes step attempt: from a created pod to a result.

Every poll interval, until the pod ends::

    log lines from the reader thread → artifact section? keep : mask → io.log
    io.cancelled?              delete the pod (grace 5 s)       → CANCELLED
    past the step timeout?     delete the pod                   → TIMEOUT
    read the pod:  step container started → start the log reader thread
                   image pull failing longer than the grace     → ERROR (pod deleted)
                   InvalidImageName, CreateContainerConfigError → ERROR (pod deleted)
                   Succeeded / Failed → drain the logs, map the outcome

Outcomes: ``Succeeded`` → SUCCESS; ``Failed`` → FAILURE with the step container's exit code
(``OOMKilled`` says so in the error), TIMEOUT when Kubernetes reports ``DeadlineExceeded``
(``activeDeadlineSeconds`` is the backstop that stops the pod even if this process dies),
ERROR when the checkout failed (its logs are shown) or the pod failed before the step ran
(evicted, node lost). A pod read that fails is retried a few times; a pod that vanished is an
ERROR.

The API's follow stream blocks, so logs are read by a daemon thread and handed over a queue;
the loop waits on that queue for at most one poll interval and stays responsive to
cancellation. Every line is masked (:class:`~.base.Masker` over the step's secrets) before it
reaches ``io.log``. Clock and sleep come from :class:`Timing`, so tests drive timeouts and
pull failures without waiting.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from platform_sdk.pipelines.runtime.base import (
    Masker,
    Outcome,
    StepIO,
    StepKind,
    StepResult,
    StepSpec,
)
from platform_sdk.pipelines.runtime.k8s_client import (
    KubeApiError,
    KubeClient,
    PodStatus,
    pod_status,
)
from platform_sdk.pipelines.runtime.k8s_objects import (
    CHECKOUT_CONTAINER,
    STEP_CONTAINER,
    PodOptions,
)
from platform_sdk.pipelines.runtime.k8s_shell import ArtifactCollector
from platform_sdk.pipelines.runtime.local_procs import NOTICE

__all__ = [
    "CANCEL_GRACE_SECONDS",
    "FATAL_REASONS",
    "PULL_REASONS",
    "PodWatch",
    "Timing",
    "ignore_missing",
]

PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
FATAL_REASONS = frozenset({"InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"})
CANCEL_GRACE_SECONDS = 5
_END = object()


@dataclass(frozen=True)
class Timing:
    """How the loop waits; tests pass ``poll_interval=0`` and a fake clock and sleep."""

    poll_interval: float = 1.0
    image_pull_grace: float = 300.0
    """How long an image may fail to pull before the step is an ERROR."""
    log_drain_timeout: float = 30.0
    """How long to wait for the rest of the logs once the pod has ended."""
    max_read_failures: int = 5
    """Consecutive failed pod reads tolerated (API server hiccups)."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class PodWatch:
    """The control loop of one step attempt, from a created pod to a :class:`StepResult`."""

    def __init__(
        self,
        client: KubeClient,
        options: PodOptions,
        timing: Timing,
        *,
        namespace: str,
        pod: str,
        step: StepSpec,
        io: StepIO,
        collector: ArtifactCollector | None = None,
    ) -> None:
        self.client, self.options, self.timing = client, options, timing
        self.ns, self.pod, self.step, self.io = namespace, pod, step, io
        self.collector = collector
        self.mask = Masker(step.secrets)
        self.lines: queue.Queue[object] = queue.Queue()
        self.reader: threading.Thread | None = None

    def run(self) -> StepResult:
        timing, step = self.timing, self.step
        deadline = timing.clock() + step.timeout_seconds
        pull_since: float | None = None
        failures = 0
        status = PodStatus(phase="Pending")
        while True:
            self._drain()
            if self.io.cancelled.is_set():
                self.io.log(f"{NOTICE}cancelled: deleting the step's pod")
                self._delete(CANCEL_GRACE_SECONDS)
                return StepResult(Outcome.CANCELLED, error="cancelled")
            if timing.clock() >= deadline:
                limit = f"{step.timeout_seconds:g}"
                self.io.log(f"{NOTICE}timed out after {limit} s: deleting the step's pod")
                self._delete(1)
                return StepResult(Outcome.TIMEOUT, error=self._timeout_message(status))
            try:
                status = pod_status(self.client.read_pod(self.ns, self.pod))
                failures = 0
            except KubeApiError as exc:
                failures += 1
                if exc.status == 404:
                    return StepResult(Outcome.ERROR, error=f"pod {self.pod} was deleted")
                if failures > timing.max_read_failures:
                    return StepResult(Outcome.ERROR, error=f"Kubernetes: {exc.message}")
                self._wait()
                continue
            if status.started:
                self._start_reader()
            if status.done:
                return self._finish(status)
            if status.waiting_reason in FATAL_REASONS:
                self._delete(1)
                return StepResult(Outcome.ERROR, error=self._waiting_message(status))
            if status.waiting_reason in PULL_REASONS:
                pull_since = timing.clock() if pull_since is None else pull_since
                if timing.clock() - pull_since > timing.image_pull_grace:
                    self._delete(1)
                    return StepResult(Outcome.ERROR, error=self._waiting_message(status))
            else:
                pull_since = None
            self._wait()

    def _finish(self, status: PodStatus) -> StepResult:
        if self.reader is not None:
            self.reader.join(self.timing.log_drain_timeout)
        self._drain()
        code = status.exit_code
        if status.phase == "Succeeded":
            return StepResult(Outcome.SUCCESS, exit_code=code if code is not None else 0)
        if status.reason == "DeadlineExceeded":
            limit = f"{self.step.timeout_seconds:g}"
            return StepResult(Outcome.TIMEOUT, error=f"step exceeded its timeout of {limit}s")
        if status.checkout_exit_code is not None:
            self._show_checkout_logs()
            return StepResult(
                Outcome.ERROR,
                error=f"checkout failed (git exited with {status.checkout_exit_code})",
            )
        if code is not None:
            error = None
            if status.exit_reason == "OOMKilled":
                error = "the step ran out of memory (raise PLATFORM_MEMORY_LIMIT)"
            return StepResult(Outcome.FAILURE, exit_code=code, error=error)
        detail = ": ".join(p for p in (status.reason, status.message) if p) or "no reason given"
        return StepResult(Outcome.ERROR, error=f"pod failed before the step ran ({detail})")

    # -- logs --------------------------------------------------------------------------------
    def _start_reader(self) -> None:
        if self.reader is not None:
            return
        self.reader = threading.Thread(
            target=self._read_logs, name=f"k8s-logs-{self.pod}", daemon=True
        )
        self.reader.start()

    def _read_logs(self) -> None:
        try:
            for line in self.client.stream_logs(
                self.ns, self.pod, container=STEP_CONTAINER, follow=True
            ):
                self.lines.put(line)
        except KubeApiError as exc:
            self.lines.put(exc)
        finally:
            self.lines.put(_END)

    def _drain(self) -> None:
        while True:
            try:
                item = self.lines.get_nowait()
            except queue.Empty:
                return
            self._emit(item)

    def _emit(self, item: object) -> None:
        if item is _END:
            return
        if isinstance(item, KubeApiError):
            self.io.log(f"{NOTICE}log stream interrupted: {self.mask(item.message)}")
        elif isinstance(item, str) and not (self.collector and self.collector.feed(item)):
            self.io.log(self.mask(item))

    def _wait(self) -> None:
        """One poll interval, waking early for a log line (handled at once)."""
        if self.reader is None or not self.reader.is_alive() or self.timing.poll_interval <= 0:
            self.timing.sleep(self.timing.poll_interval)
            return
        with contextlib.suppress(queue.Empty):
            self._emit(self.lines.get(timeout=self.timing.poll_interval))

    def _show_checkout_logs(self) -> None:
        try:
            for line in self.client.stream_logs(
                self.ns, self.pod, container=CHECKOUT_CONTAINER, follow=False
            ):
                self.io.log(self.mask(f"{NOTICE}checkout: {line}"))
        except KubeApiError as exc:
            self.io.log(f"{NOTICE}checkout logs unavailable: {exc.message}")

    # -- messages and deletion ---------------------------------------------------------------
    def _delete(self, grace: int) -> None:
        try:
            ignore_missing(lambda: self.client.delete_pod(self.ns, self.pod, grace_seconds=grace))
        except KubeApiError as exc:
            self.io.log(f"{NOTICE}could not delete pod {self.pod}: {exc.message}")
        self._drain()

    def _timeout_message(self, status: PodStatus) -> str:
        message = f"step exceeded its timeout of {self.step.timeout_seconds:g}s"
        if status.pending_message and not status.started:
            message += f"; the pod was never scheduled: {status.pending_message}"
        return message

    def _waiting_message(self, status: PodStatus) -> str:
        options = self.options
        if status.waiting_container == CHECKOUT_CONTAINER:
            image = options.git_image
        elif self.step.kind is StepKind.IMAGE_BUILD:
            image = options.kaniko_image
        else:
            image = self.step.image or options.default_image
        detail = status.waiting_message or "no detail"
        if status.waiting_reason in PULL_REASONS:
            return f"cannot pull image {image!r}: {detail}"
        return f"the pod cannot start ({status.waiting_reason}): {detail}"


def ignore_missing(call: Callable[[], None]) -> None:
    """Run a delete call; an object that is already gone is fine."""
    try:
        call()
    except KubeApiError as exc:
        if exc.status != 404:
            raise
