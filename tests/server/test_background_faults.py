"""Every background loop of the server carries on through a failing database.

Each loop the server spawns (``server.routers.workers``) runs with a session factory that
fails as a locked or unreachable database does (``OperationalError``); once it has failed
twice (it came back after a failure rather than dying) the database is restored, and the loop
must open a working session again without a restart, then stop cleanly when asked. A new
loop is covered automatically; one that never touches the database must be named below.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from platform_sdk.pipelines import schedule
from platform_sdk.sdk import Platform
from platform_sdk.server.background import BackgroundTasks
from platform_sdk.server.routers import workers

NO_DATABASE = {"telemetry-writer", "otlp-listener"}
DEADLINE = 60.0  # a bound for a stuck loop, not a speed check: each pass takes milliseconds


class FlakyDatabase:
    """A session factory that fails until ``restore()``, counting what it was asked."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.failing = True
        self.failures = 0
        self.successes = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self.failing:
                self.failures += 1
                raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
            self.successes += 1
        return self.real(*args, **kwargs)


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def _fast(worker: Any) -> None:
    owner = getattr(worker, "__self__", None)
    for attr in ("poll_interval", "poll", "interval"):
        if owner is not None and isinstance(getattr(owner, attr, None), (int, float)):
            setattr(owner, attr, 0.02)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_background_loop_survives_a_failing_database(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "INTERVAL", 0.02)
    loops = workers(platform)
    names = {name for name, _ in loops}
    assert {"webhook-deliveries", "pipeline-steps", "alert-evaluator"} <= names
    for name, worker in loops:
        if name in NO_DATABASE:
            continue
        _fast(worker)
        flaky = FlakyDatabase(platform.sessions)
        monkeypatch.setattr(platform, "sessions", flaky)

        async def scenario(name: str = name, worker: Any = worker, flaky: Any = flaky) -> None:
            tasks = BackgroundTasks()
            task = tasks.spawn(name, worker)
            await _until(lambda: flaky.failures >= 2, f"{name} never came back after a failure")
            assert not task.done(), f"{name} died with the database"
            flaky.failing = False
            await _until(lambda: flaky.successes >= 1, f"{name} never used the database again")
            assert not task.done(), f"{name} stopped after the database came back"
            cancelled = await tasks.drain(grace=10)
            assert cancelled == [], f"{name} did not stop when asked"

        asyncio.run(scenario())
        monkeypatch.setattr(platform, "sessions", flaky.real)
