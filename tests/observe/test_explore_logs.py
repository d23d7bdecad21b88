"""search_logs: filters, order, keyset paging and the actor's scope, over spool and Parquet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from platform_sdk.errors import BadRequest, NotFound, ValidationFailed
from platform_sdk.observe.services.explore import search_logs
from platform_sdk.sdk import Platform
from tests.observe.explore_data import TRACE, A, B, World, at, make_world
from tests.plugins.platforms import People

WINDOW: dict[str, Any] = {"since": at(-60), "until": at(3600)}


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    w = make_world(platform, people)
    # Flushed to Parquet: the older half of alpha's records and all of beta's.
    w.add(
        "logs",
        [
            {"timestamp": at(0), "body": "started", "severity_number": 9, "severity": "INFO"},
            {"timestamp": at(1), "body": "debug noise", "severity_number": 5},
            {"timestamp": at(2), "body": "disk 100% full", "severity_number": 13},
            {"timestamp": at(3), "body": "disk 100x full", "severity_number": 17},
            {"timestamp": at(2), "body": "beta secret", "project": B, "severity_number": 17},
        ],
    )
    w.flush()
    # Still in the spool.
    w.add(
        "logs",
        [
            {"timestamp": at(4), "body": "user_name=bob", "severity": "ERROR"},
            {"timestamp": at(5), "body": "username=bob", "severity": "warning"},
            {"timestamp": at(6), "body": "crash", "severity_number": 21, "trace_id": TRACE},
            {"timestamp": at(7), "body": "from worker", "service": "worker", "session_id": "s1"},
            {"timestamp": at(8), "body": "beta later", "project": B},
        ],
    )
    return w


def bodies(world: World, **kwargs: object) -> list[str]:
    with world.db() as db:
        table = search_logs(db, actor=kwargs.pop("actor", world.admin), **WINDOW, **kwargs)  # type: ignore[arg-type]
    return [str(b) for b in table.column("body").to_pylist()]


def test_newest_first_across_parquet_and_spool(world: World) -> None:
    assert bodies(world, project=A) == [
        "from worker",
        "crash",
        "username=bob",
        "user_name=bob",
        "disk 100x full",
        "disk 100% full",
        "debug noise",
        "started",
    ]


def test_a_reader_of_one_project_never_sees_the_other(world: World) -> None:
    seen = bodies(world, actor=world.reader)
    assert "beta secret" not in seen
    assert "beta later" not in seen
    assert len(seen) == 8
    with pytest.raises(NotFound):
        bodies(world, actor=world.reader, project=B)
    with pytest.raises(NotFound):
        bodies(world, actor=world.reader, project=str(world.beta))
    assert bodies(world, actor=world.reader, project=str(world.alpha))[0] == "from worker"
    assert bodies(world, project=B) == ["beta later", "beta secret"]
    with pytest.raises(NotFound):
        bodies(world, project="olga/nope")


def test_level_is_a_minimum_by_number_or_by_text(world: World) -> None:
    assert bodies(world, project=A, level="warn") == [
        "crash",
        "username=bob",
        "user_name=bob",
        "disk 100x full",
        "disk 100% full",
    ]
    assert bodies(world, project=A, level="ERROR") == ["crash", "user_name=bob", "disk 100x full"]
    assert bodies(world, project=A, level="fatal") == ["crash"]
    with pytest.raises(ValidationFailed):
        bodies(world, level="loud")


def test_q_is_a_literal_case_insensitive_substring(world: World) -> None:
    assert bodies(world, q="100%") == ["disk 100% full"]
    assert bodies(world, q="DISK") == ["disk 100x full", "disk 100% full"]
    assert bodies(world, q="user_name") == ["user_name=bob"]
    assert bodies(world, q="s_r") == []  # as a wildcard, `_` would match "user"


def test_session_trace_and_service_filters(world: World) -> None:
    assert bodies(world, session="s1") == ["from worker"]
    assert bodies(world, trace=TRACE.upper()) == ["crash"]
    assert bodies(world, service="worker") == ["from worker"]
    with pytest.raises(ValidationFailed):
        bodies(world, trace="not-a-trace")


def test_keyset_paging_returns_every_record_once(world: World) -> None:
    pages: list[list[str]] = []
    before = None
    while True:
        with world.db() as db:
            page = search_logs(
                db,
                actor=world.admin,
                project=A,
                limit=3,
                before=before,
                since=at(-60),
                until=at(3600),
            )
        if page.num_rows == 0:
            break
        pages.append([str(b) for b in page.column("body").to_pylist()])
        before = page.column("timestamp")[-1].as_py()
    assert pages == [
        ["from worker", "crash", "username=bob"],
        ["user_name=bob", "disk 100x full", "disk 100% full"],
        ["debug noise", "started"],
    ]


def test_a_full_page_keeps_the_records_that_tie_with_its_last(world: World) -> None:
    # The admin sees alpha's "disk 100% full" and beta's "beta secret", both at 2 s: a page
    # of 7 ends inside that tie, so it carries both, and the next page starts after them.
    page = bodies(world, limit=7)
    assert len(page) == 8
    assert set(page[-2:]) == {"disk 100% full", "beta secret"}
    assert bodies(world, limit=7, before=at(2)) == ["debug noise", "started"]


def test_the_default_window_is_the_last_hour(world: World) -> None:
    now = datetime.now(UTC)
    world.add(
        "logs",
        [
            {"timestamp": now - timedelta(minutes=10), "body": "recent"},
            {"timestamp": now - timedelta(hours=2), "body": "old"},
        ],
    )
    with world.db() as db:
        table = search_logs(db, actor=world.admin)
    assert table.column("body").to_pylist() == ["recent"]


def test_bad_arguments(world: World) -> None:
    with world.db() as db:
        with pytest.raises(ValidationFailed):
            search_logs(db, actor=world.admin, limit=0)
        with pytest.raises(ValidationFailed):
            search_logs(db, actor=world.admin, limit=10_001)
        with pytest.raises(BadRequest):
            search_logs(db, actor=world.admin, since=at(10), until=at(0))
