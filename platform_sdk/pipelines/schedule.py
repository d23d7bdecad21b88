"""Scheduled runs: ``on.schedule`` cron entries, evaluated by a background loop.

Every :data:`INTERVAL` seconds the loop reads ``.platform.yaml`` on each project's default
branch and queues a ``schedule`` run for every cron time that fell in ``(last tick, now]``, on
the entry's branch (its head commit at that moment). Times missed while no server ran are
not made up (cron's behaviour). Several server processes may run the loop: each fire time is
claimed once through an atomic bus counter (``incr`` on a key naming project, entry and time),
so exactly one process queues it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from platform_sdk.core.types import utcnow
from platform_sdk.errors import ValidationFailed
from platform_sdk.git.repos import repo_path, run_git
from platform_sdk.pipelines.definition import next_schedule_times, parse_definition
from platform_sdk.pipelines.models import TriggerKind
from platform_sdk.pipelines.planning import plan_run, read_definition
from platform_sdk.projects.access import project_label
from platform_sdk.projects.models import Project

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["INTERVAL", "Scheduler"]

log = logging.getLogger(__name__)

INTERVAL = 20.0


class Scheduler:
    """Queues the runs of ``on.schedule``; :meth:`tick` takes the clock for tests."""

    def __init__(self, platform: Platform, *, start: datetime | None = None) -> None:
        self.platform = platform
        self.last = start or utcnow()

    def tick(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        since, self.last = self.last, now
        queued = 0
        with self.platform.session() as db:
            for project in db.scalars(select(Project).where(Project.deleted_at.is_(None))):
                label = project_label(db, project)
                owner, _, name = label.partition("/")
                git_dir = repo_path(self.platform.settings, owner, name)
                if not git_dir.exists():
                    continue
                text = read_definition(git_dir, f"refs/heads/{project.default_branch}")
                if text is None or "schedule" not in text:
                    continue
                try:
                    definition = parse_definition(text)
                except ValidationFailed:
                    continue  # pushes of that commit already reported the errors
                for fire, branch in next_schedule_times(definition, since, now):
                    key = f"pipelines:schedule:{project.id}:{branch}:{fire.isoformat()}"
                    if self.platform.runtime.bus.incr(key, ttl=3600) != 1:
                        continue  # another process queued it
                    head = run_git(
                        ["rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}"],
                        git_dir=git_dir,
                        check=False,
                    )
                    if head.returncode != 0:
                        continue
                    run = plan_run(
                        db,
                        project,
                        git_dir=git_dir,
                        trigger=TriggerKind.SCHEDULE,
                        ref=f"refs/heads/{branch}",
                        commit=head.stdout.decode().strip(),
                        triggered_by=None,
                    )
                    queued += run is not None
            db.commit()
        return queued

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("pipeline schedule tick failed")
            wait = max(0.0, INTERVAL - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
