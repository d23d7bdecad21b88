"""Graceful shutdown: background tasks are asked to stop, waited for, then cancelled."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from platform_sdk.server.background import BackgroundTasks


def test_drain_waits_for_cooperative_tasks_and_cancels_stubborn_ones() -> None:
    finished: list[str] = []

    async def polite(stopping: asyncio.Event) -> None:
        await stopping.wait()
        finished.append("polite")  # finishes its unit of work after the stop signal

    async def stubborn(stopping: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()  # never looks at `stopping`
        except asyncio.CancelledError:
            finished.append("stubborn-cancelled")
            raise

    async def scenario() -> list[str]:
        tasks = BackgroundTasks()
        tasks.spawn("polite", polite)
        tasks.spawn("stubborn", stubborn)
        await asyncio.sleep(0)
        assert tasks.running == ["polite", "stubborn"]
        cancelled = await tasks.drain(grace=0.2)
        assert tasks.running == []
        with pytest.raises(RuntimeError, match="shutting down"):
            tasks.spawn("late", polite)
        return cancelled

    assert asyncio.run(scenario()) == ["stubborn"]
    assert sorted(finished) == ["polite", "stubborn-cancelled"]


def test_a_crashing_task_is_logged_and_started_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def crash_twice(stopping: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise ValueError("boom")
        third.set()
        await stopping.wait()  # the third start survives, until the stop

    async def scenario() -> tuple[list[str], dict[str, int]]:
        tasks = BackgroundTasks(first_backoff=0.01)
        tasks.spawn("crasher", crash_twice)
        await asyncio.wait_for(third.wait(), timeout=30)
        assert tasks.running == ["crasher"]
        return await tasks.drain(grace=5), dict(tasks.restarts)

    cancelled, restarts = asyncio.run(scenario())
    assert cancelled == []
    assert restarts == {"crasher": 2}
    failed = [r for r in caplog.records if r.message.startswith("background task failed")]
    assert [r.task for r in failed] == ["crasher", "crasher"]  # type: ignore[attr-defined]


def test_a_stop_during_the_backoff_ends_the_task_at_once() -> None:
    async def crash(stopping: asyncio.Event) -> None:
        raise ValueError("boom")

    async def scenario() -> tuple[list[str], dict[str, int]]:
        tasks = BackgroundTasks(first_backoff=3600)  # it would wait an hour to restart
        task = tasks.spawn("crasher", crash)
        await asyncio.sleep(0.05)
        cancelled = await tasks.drain(grace=5)
        assert task.done()
        return cancelled, dict(tasks.restarts)

    assert asyncio.run(scenario()) == ([], {})


def test_an_app_started_twice_runs_its_loops_both_times(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    """A second start of the same app (a notebook's server started again, a second TestClient)
    gets background tasks of its own event loop: the first start's stop event belonged to a
    loop that is gone, and every loop of the second start failed on it."""
    app = create_app(platform)
    for _ in range(2):
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            assert "webhook-deliveries" in app.state.background.running
    failed = [r.getMessage() for r in caplog.records if "background task failed" in r.message]
    assert failed == []
