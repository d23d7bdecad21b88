"""tail and publish_tail: live rows through the bus, filtered by the actor's scope and filters."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.tail import LogTail, publish_tail, tail
from platform_sdk.sdk import Platform
from tests.observe.explore_data import A, B, World, at, make_world, rows
from tests.plugins.platforms import People

WAIT = 5.0  # seconds: a bound on each wait, never a pause


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    return make_world(platform, people)


def publish(world: World, items: list[dict[str, Any]], **kwargs: int) -> int:
    return publish_tail(world.platform.runtime.bus, rows("logs", items), **kwargs)


class Reader:
    """Consumes a tail in a thread, as an SSE route would."""

    def __init__(self, stream: LogTail) -> None:
        self.stream = stream
        self.rows: queue.Queue[dict[str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for row in self.stream:
            self.rows.put(row)

    def take(self, count: int) -> list[dict[str, Any]]:
        return [self.rows.get(timeout=WAIT) for _ in range(count)]

    def stop(self) -> None:
        self.stream.close()
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive()


def test_a_tail_gets_rows_published_after_it_started_and_only_its_projects(world: World) -> None:
    publish(world, [{"timestamp": at(0), "body": "before"}])
    reader = Reader(tail(world.platform, actor=world.reader))
    try:
        sent = publish(
            world,
            [
                {"timestamp": at(1), "body": "a1"},
                {"timestamp": at(2), "body": "b1", "project": B},
                {"timestamp": at(3), "body": "a2", "trace_id": "5b8efff798038103d269b633813fc60c"},
            ],
        )
        assert sent == 3
        publish(world, [{"timestamp": at(4), "body": "b only", "project": B}])
        publish(world, [{"timestamp": at(5), "body": "a3"}])
        got = reader.take(3)
        assert [r["body"] for r in got] == ["a1", "a2", "a3"]
        assert got[0]["timestamp"] == "2024-05-01T12:00:01.000000Z"
        assert got[0]["project"] == A
        assert got[1]["trace_id"].startswith("5b8e")
        assert reader.rows.empty()
    finally:
        reader.stop()


def test_level_and_q_filter_the_stream(world: World) -> None:
    reader = Reader(tail(world.platform, actor=world.admin, level="warn", q="100%"))
    try:
        publish(
            world,
            [
                {"timestamp": at(1), "body": "disk 100% full", "severity_number": 9},
                {"timestamp": at(2), "body": "disk 100x full", "severity_number": 17},
                {"timestamp": at(3), "body": "disk 100% FULL", "severity": "ERROR"},
                {"timestamp": at(4), "body": "Disk 100% full", "project": B, "severity_number": 13},
            ],
        )
        assert [r["body"] for r in reader.take(2)] == ["disk 100% FULL", "Disk 100% full"]
    finally:
        reader.stop()


def test_poll_waits_a_bounded_time(world: World) -> None:
    with tail(world.platform, actor=world.reader, project=A) as stream:
        assert stream.poll(0.05) == []
        publish(world, [{"timestamp": at(1), "body": "x"}, {"timestamp": at(2), "body": "y"}])
        assert [r["body"] for r in stream.poll(WAIT)] == ["x", "y"]
    assert stream.poll(WAIT) == []  # closed: answers at once


def test_batches_are_capped_per_message_and_per_call(world: World) -> None:
    bus = world.platform.runtime.bus
    with (
        bus.subscribe("observe.tail.logs") as raw,
        tail(world.platform, actor=world.admin) as stream,
    ):
        items = [{"timestamp": at(i), "body": str(i)} for i in range(7)]
        assert publish(world, items, max_rows=2, max_rows_per_call=5) == 5
        messages = [m.data for _ in range(3) if (m := raw.get(WAIT)) is not None]
        assert [len(m["rows"]) for m in messages] == [2, 2, 1]
        assert messages[-1]["skipped"] == 2
        assert messages[0]["projects"] == [A]
        assert [r["body"] for r in stream.poll(WAIT)] == ["0", "1", "2", "3", "4"]
        assert stream.skipped == 2


def test_nothing_is_converted_while_nobody_tails(world: World) -> None:
    assert publish(world, [{"timestamp": at(1), "body": "x"}]) == 0


def test_the_actor_is_checked_when_the_tail_starts(world: World) -> None:
    with pytest.raises(NotFound):
        tail(world.platform, actor=world.reader, project=B)
    with pytest.raises(ValidationFailed):
        tail(world.platform, actor=world.reader, level="loud")
