"""Graceful shutdown: background tasks are asked to stop, waited for, then cancelled."""

from __future__ import annotations

import asyncio

import pytest

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


def test_a_crashing_task_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def crash(stopping: asyncio.Event) -> None:
        raise ValueError("boom")

    async def scenario() -> list[str]:
        tasks = BackgroundTasks()
        task = tasks.spawn("crasher", crash)
        await task
        return await tasks.drain(grace=0.1)

    assert asyncio.run(scenario()) == []
    assert any(
        r.message == "background task failed" and r.task == "crasher" for r in caplog.records
    )  # type: ignore[attr-defined]
