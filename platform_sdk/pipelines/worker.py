"""The pipeline worker: claims steps from the queue, runs them on a runtime, records the end.

One worker per process (``platform serve`` spawns it; an embedded ``run.wait()`` drives one
when no server runs). Each :meth:`PipelineWorker.tick`:

1. fails runs past their timeout and takes back steps whose worker stopped heart-beating
   (:mod:`platform_sdk.pipelines.queue`);
2. heart-beats its running steps and signals cancellation to those whose run was cancelled
   or ended;
3. claims as many ready steps as it has free slots (``PLATFORM_PIPELINE_MAX_PARALLEL``) and
   runs each in a thread: resolve the step's secrets, prepare the run's workspace, run the
   step with its output going to a :class:`~platform_sdk.pipelines.logs.LogWriter`, upload
   the artifacts, record the end (:func:`~platform_sdk.pipelines.queue.finish_step`).

The loop wakes on ``events.pipeline`` and ``pipelines.cancel`` bus messages, so a pushed
commit's first step starts within a bus round trip instead of a poll interval. Workspaces of
the local runtime live under ``{data_dir}/workspaces/{worker id}``: steps of a run share one
when they land on the same worker (runs on several workers each check out their own copy).
At shutdown, steps still running are stopped and put back in the queue (their attempt not
counted), so another worker — or this one after a restart — runs them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from platform_sdk.core.types import utcnow
from platform_sdk.pipelines.execute import execute_step
from platform_sdk.pipelines.models import Pipeline, PipelineStep, StepStatus
from platform_sdk.pipelines.queue import (
    Claim,
    claim_steps,
    expire_runs,
    expired_artifacts,
    heartbeat,
    reap_stale,
    requeue_step,
)
from platform_sdk.pipelines.runtime.base import StepRuntime

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["PipelineWorker", "make_runtime"]

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)
WAKE_CHANNELS = ("events.pipeline", "pipelines.cancel", "pipelines.wake")
SWEEP_INTERVAL = 600.0


def make_runtime(platform: Platform, worker_id: str) -> StepRuntime:
    """The runtime ``PLATFORM_RUNTIME`` names."""
    settings = platform.settings
    if settings.runtime == "kubernetes":
        from platform_sdk.pipelines.clone_token import clone_token_minter
        from platform_sdk.pipelines.runtime.kubernetes import KubernetesRuntime

        return KubernetesRuntime.from_settings(settings, git_token=clone_token_minter(platform))
    from platform_sdk.core.sandbox import SandboxUnavailable
    from platform_sdk.pipelines.runtime.local import LocalRuntime

    sandbox = platform.sandbox
    if not sandbox.isolated:
        log.warning(
            "PLATFORM_LOCAL_SANDBOX=none: pipeline steps run unsandboxed, as this server's user"
        )
    else:
        try:
            sandbox.check()
        except SandboxUnavailable as exc:
            log.error("pipeline steps will be refused: %s", exc.message)
    return LocalRuntime(settings.data_dir / "workspaces" / worker_id, sandbox=sandbox)


@dataclass
class _Active:
    claim: Claim
    cancelled: threading.Event = field(default_factory=threading.Event)
    shutdown: bool = False
    future: Future[None] | None = None


class PipelineWorker:
    """Runs queued steps; see the module docstring."""

    def __init__(
        self,
        platform: Platform,
        *,
        runtime: StepRuntime | None = None,
        max_parallel: int | None = None,
        worker_id: str | None = None,
        poll: float = 1.0,
    ) -> None:
        self.platform = platform
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.runtime = runtime or make_runtime(platform, self.worker_id)
        self.max_parallel = (
            platform.settings.pipeline_max_parallel if max_parallel is None else max_parallel
        )
        self.poll = poll
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, self.max_parallel), thread_name_prefix="pipeline-step"
        )
        self._active: dict[uuid.UUID, _Active] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._next_sweep = 0.0

    # -- the loop ---------------------------------------------------------------------------
    def tick(self) -> int:
        """One round of housekeeping and claiming; answers how many steps it started."""
        now = utcnow()
        with self.platform.session() as db:
            expire_runs(db, now=now)
            reap_stale(db, now=now, stale_after=STALE_AFTER)
            db.commit()
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_INTERVAL
            self.sweep_artifacts(now)
        self._check_active()
        with self._lock:
            free = self.max_parallel - len(self._active)
        if free <= 0:
            return 0
        with self.platform.session() as db:
            claims = claim_steps(db, worker=self.worker_id, limit=free, now=utcnow())
            db.commit()
        if claims:
            with contextlib.suppress(Exception):  # live followers see "running" at once
                self.platform.runtime.bus.publish("pipelines.wake", {"claimed": len(claims)})
        for claim in claims:
            active = _Active(claim)
            with self._lock:
                self._active[claim.step_id] = active
            active.future = self._pool.submit(self._run, active)
        return len(claims)

    def sweep_artifacts(self, now: datetime) -> int:
        """Delete artifacts past ``PLATFORM_ARTIFACT_TTL_DAYS`` (rows, then objects)."""
        ttl = timedelta(days=self.platform.settings.artifact_ttl_days)
        with self.platform.session() as db:
            keys = expired_artifacts(db, now=now, ttl=ttl)
            db.commit()
        for key in keys:
            try:
                self.platform.runtime.blobs.delete(key)
            except Exception:
                log.warning("could not delete expired artifact %s", key, exc_info=True)
        return len(keys)

    def _check_active(self) -> None:
        with self._lock:
            actives = list(self._active.values())
        if not actives:
            return
        with self.platform.session() as db:
            heartbeat(
                db, step_ids=[a.claim.step_id for a in actives], worker=self.worker_id, now=utcnow()
            )
            rows = db.execute(
                select(PipelineStep.id, PipelineStep.status, Pipeline.status)
                .join(Pipeline, Pipeline.id == PipelineStep.pipeline_id)
                .where(PipelineStep.id.in_([a.claim.step_id for a in actives]))
            ).all()
            db.commit()
        for step_id, step_status, run_status in rows:
            if run_status.is_terminal or step_status != StepStatus.RUNNING:
                active = self._active.get(step_id)
                if active is not None:
                    active.cancelled.set()

    def _run(self, active: _Active) -> None:
        try:
            execute_step(self, active.claim, active.cancelled, lambda: active.shutdown)
        except Exception:
            log.exception("pipeline step %s crashed the worker thread", active.claim.step_id)
        finally:
            with self._lock:
                self._active.pop(active.claim.step_id, None)
            self._wake.set()
            with contextlib.suppress(Exception):  # other workers: a slot or a dependency freed
                self.platform.runtime.bus.publish("pipelines.wake", {"worker": self.worker_id})

    def run_ids_active(self) -> set[uuid.UUID]:
        with self._lock:
            return {a.claim.run_id for a in self._active.values()}

    def loop(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, waking early on pipeline events."""
        sub = None
        try:
            sub = self.platform.runtime.bus.subscribe(*WAKE_CHANNELS)
        except Exception:
            log.warning("pipeline worker: no bus subscription; polling only", exc_info=True)
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:
                    log.exception("pipeline worker tick failed")
                self._wait(sub, stop)
        finally:
            if sub is not None:
                sub.close()
            self.shutdown()

    def _wait(self, sub: object, stop: threading.Event) -> None:
        if self._wake.is_set():
            self._wake.clear()
            return
        if sub is None or stop.is_set():
            stop.wait(self.poll)
            return
        from platform_sdk.core.bus import Subscription

        assert isinstance(sub, Subscription)
        deadline = time.monotonic() + self.poll
        # short slices: a step finishing in this process (``_wake``) must not wait for the bus
        while not stop.is_set() and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or sub.get(timeout=min(0.05, left)) is not None:
                break
        self._wake.clear()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """The server's background task: the loop in a thread until ``stop``."""
        halt = threading.Event()
        thread = threading.Thread(target=self.loop, args=(halt,), name="pipeline-worker")
        thread.start()
        try:
            await stop.wait()
        finally:
            halt.set()
            await asyncio.to_thread(thread.join)

    def shutdown(self) -> None:
        """Stop running steps and give them back to the queue; wait for the threads."""
        with self._lock:
            actives = list(self._active.values())
        for active in actives:
            active.shutdown = True
            active.cancelled.set()
        self._pool.shutdown(wait=True)
        with self.platform.session() as db:
            for active in actives:
                requeue_step(db, claim=active.claim, worker=self.worker_id)
            db.commit()

    def drive(self, run_id: uuid.UUID, *, timeout: float | None = None) -> None:
        """Run ticks in this thread until the run ended (embedded ``run.wait()``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.platform.session() as db:
                run = db.get(Pipeline, run_id)
                if run is None or run.status.is_terminal:
                    break
            self.tick()
            if deadline is not None and time.monotonic() > deadline:
                break
            self._wake.wait(0.05)
            self._wake.clear()
        with self._lock:
            futures = [a.future for a in self._active.values() if a.future is not None]
        for future in futures:
            future.result()
