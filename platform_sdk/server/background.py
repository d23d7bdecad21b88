"""Background tasks owned by the server process, drained on graceful shutdown.

Capabilities register long-running loops (telemetry flushing, pipeline workers, webhook
delivery) with :meth:`BackgroundTasks.spawn`. On shutdown the server stops accepting requests,
then :meth:`drain` asks every task to stop (``stopping`` is set), waits up to the shutdown
timeout for them to finish their current unit of work, and cancels what is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["BackgroundTasks"]

log = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()

    def spawn(
        self, name: str, fn: Callable[[asyncio.Event], Awaitable[None]]
    ) -> asyncio.Task[None]:
        """Run ``fn(stopping)``; it should return soon after ``stopping`` is set."""
        if self.stopping.is_set():
            raise RuntimeError("the server is shutting down; no new background tasks")

        async def runner() -> None:
            try:
                await fn(self.stopping)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed", extra={"task": name})

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
