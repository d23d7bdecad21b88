"""Background tasks owned by the server process, drained on graceful shutdown.

Capabilities register long-running loops (telemetry flushing, pipeline workers, webhook
delivery) with :meth:`BackgroundTasks.spawn`. On shutdown the server stops accepting requests,
then :meth:`drain` asks every task to stop (``stopping`` is set), waits up to the shutdown
timeout for them to finish their current unit of work, and cancels what is left.

A loop that crashes is logged and started again after a back-off (1 s, doubling to 60 s;
back to 1 s once it has run for a minute), as a process supervisor would: one unexpected
error must not silently end webhook delivery or pipeline execution until the next restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["BackgroundTasks"]

log = logging.getLogger(__name__)

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
HEALTHY_AFTER = 60.0
"""A loop that ran this long before crashing restarts after FIRST_BACKOFF again."""


class BackgroundTasks:
    def __init__(self, *, first_backoff: float = FIRST_BACKOFF) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self.first_backoff = first_backoff
        self.restarts: dict[str, int] = {}
        """How many times each task was started again after a crash."""

    def spawn(
        self, name: str, fn: Callable[[asyncio.Event], Awaitable[None]]
    ) -> asyncio.Task[None]:
        """Run ``fn(stopping)``, again after a back-off whenever it crashes, until
        ``stopping`` is set; ``fn`` should return soon after it is."""
        if self.stopping.is_set():
            raise RuntimeError("the server is shutting down; no new background tasks")

        async def runner() -> None:
            backoff = self.first_backoff
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    await fn(self.stopping)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    if time.monotonic() - started >= HEALTHY_AFTER:
                        backoff = self.first_backoff
                    log.exception(
                        "background task failed; restarting it",
                        extra={"task": name, "restart_in_s": backoff},
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=backoff)
                if not self.stopping.is_set():
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                backoff = min(backoff * 2, MAX_BACKOFF)

        task = asyncio.create_task(runner(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def running(self) -> list[str]:
        return sorted(t.get_name() for t in self._tasks if not t.done())

    async def drain(self, grace: float) -> list[str]:
        """Stop every task; return the names of those that had to be cancelled."""
        self.stopping.set()
        pending = set(self._tasks)
        if not pending:
            return []
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still)
            log.warning(
                "cancelled background tasks at shutdown",
                extra={"tasks": sorted(t.get_name() for t in still)},
            )
        return sorted(t.get_name() for t in still)
