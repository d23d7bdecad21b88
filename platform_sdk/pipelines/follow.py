"""Following a run live: step status changes and log text as they happen.

:func:`follow_run` is what the SSE endpoint, the SDK's ``run.stream()`` and ``platform
pipelines logs --follow`` iterate. It reads through the services (so the actor's read access
is checked on every poll) and yields :class:`FollowEvent` items:

* ``status`` — a step changed status (``{"step", "status", "attempt"}``), and the run's own
  status changes (``{"run": status}``);
* ``log`` — new text of a step's current attempt (``{"step", "attempt", "offset", "text"}``);
* ``end`` — the run ended and every log was read to its end.

Between polls it waits on the bus (``pipelines.log.{step}`` and ``events.pipeline``), so new
output shows within a bus round trip; the poll interval bounds the delay when a wake-up is
lost (the bus delivers at most once).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platform_sdk.core.access import Actor
from platform_sdk.pipelines.logs import log_channel
from platform_sdk.pipelines.services import runs as run_svc
from platform_sdk.pipelines.services import steps as step_svc

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["FollowEvent", "follow_run"]


@dataclass(frozen=True)
class FollowEvent:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def follow_run(
    platform: Platform,
    actor: Actor,
    project: str | uuid.UUID,
    number: int,
    *,
    step: str | None = None,
    poll: float = 0.5,
    timeout: float | None = None,
) -> Iterator[FollowEvent]:
    """Events of run ``number`` until it ends (or ``timeout`` seconds pass)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen_status: dict[str, tuple[str, int]] = {}
    offsets: dict[tuple[str, int], int] = {}
    run_status = None
    with platform.session() as db:
        run = run_svc.get_run(db, actor=actor, project=project, number=number)
    channels = ["events.pipeline", "pipelines.wake", *(log_channel(s.id) for s in run.steps)]
    sub = platform.runtime.bus.subscribe(*channels)
    try:
        while True:
            with platform.session() as db:
                run = run_svc.get_run(db, actor=actor, project=project, number=number)
                chunks = []
                for s in run.steps:
                    if step is not None and s.name != step:
                        continue
                    if seen_status.get(s.name) != (s.status.value, s.attempt):
                        seen_status[s.name] = (s.status.value, s.attempt)
                        yield FollowEvent(
                            "status",
                            {"step": s.name, "status": s.status.value, "attempt": s.attempt},
                        )
                    if s.attempt < 1:
                        continue
                    at = offsets.get((s.name, s.attempt), 0)
                    chunk = step_svc.step_log(
                        db, actor=actor, project=project, number=number, step=s.name, offset=at
                    )
                    chunks.append(chunk)
            pending_logs = False
            for chunk in chunks:
                if chunk.text:
                    offsets[(chunk.step, chunk.attempt)] = chunk.offset + len(
                        chunk.text.encode("utf-8")
                    )
                    yield FollowEvent(
                        "log",
                        {
                            "step": chunk.step,
                            "attempt": chunk.attempt,
                            "offset": chunk.offset,
                            "text": chunk.text,
                        },
                    )
                if not chunk.done:
                    pending_logs = True
            if run.status.value != run_status:
                run_status = run.status.value
                yield FollowEvent("status", {"run": run_status})
            if run.status.is_terminal and not pending_logs:
                yield FollowEvent("end", {"run": run.status.value, "number": run.number})
                return
            if deadline is not None and time.monotonic() > deadline:
                return
            sub.get(timeout=poll)
    finally:
        sub.close()
