"""get_trace: the span tree, waterfall offsets and depths, the trace's logs, the actor's scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.services.explore import get_trace
from platform_sdk.observe.trace import TraceOut
from platform_sdk.sdk import Platform
from tests.observe.explore_data import OTHER_TRACE, TRACE, B, World, at, make_world
from tests.plugins.platforms import People


def span(sid: str, parent: str | None, start_ms: float, end_ms: float, **extra: object) -> dict:  # type: ignore[type-arg]
    begin, end = at(start_ms / 1000), at(end_ms / 1000)
    return {
        "timestamp": begin,
        "start": begin,
        "end": end,
        "duration_ms": end_ms - start_ms,
        "trace_id": TRACE,
        "span_id": sid,
        "parent_span_id": parent,
        "name": f"op-{sid[-1]}",
        "kind": "internal",
        "status_code": "ok",
        **extra,
    }


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    w = make_world(platform, people)
    w.add(
        "spans",
        [
            span("000000000000000a", None, 0, 100, kind="server", attributes='{"http.route": "/"}'),
            span("000000000000000b", "000000000000000a", 10, 40, kind="client"),
        ],
    )
    w.flush()
    w.add(
        "spans",
        [
            span("000000000000000c", "000000000000000b", 20, 30, service="db"),
            span(
                "000000000000000d",
                "000000000000000a",
                50,
                90,
                service="worker",
                status_code="error",
                status_message="boom",
            ),
            span("000000000000000e", "00000000000000ff", 120, 130),  # parent never arrived
            span("000000000000000f", "000000000000000a", 60, 70, project=B, service="beta-svc"),
        ],
    )
    w.add(
        "logs",
        [
            {
                "timestamp": at(0.035),
                "trace_id": TRACE,
                "span_id": "000000000000000b",
                "body": "calling",
                "severity_number": 9,
            },
            {"timestamp": at(0.095), "trace_id": TRACE, "body": "done"},
            {"timestamp": at(0.065), "trace_id": TRACE, "body": "beta log", "project": B},
            {"timestamp": at(0.05), "trace_id": OTHER_TRACE, "body": "other trace"},
        ],
    )
    return w


def trace_of(world: World, actor_name: str = "admin", trace_id: str = TRACE) -> TraceOut:
    actor = world.admin if actor_name == "admin" else world.reader
    with world.db() as db:
        return get_trace(db, actor=actor, trace_id=trace_id)


def test_the_tree_has_children_depths_and_offsets(world: World) -> None:
    trace = trace_of(world, "reader")
    assert [r.span_id[-1] for r in trace.roots] == ["a", "e"]
    root = trace.roots[0]
    assert [c.span_id[-1] for c in root.children] == ["b", "d"]
    assert [c.span_id[-1] for c in root.children[0].children] == ["c"]
    rows = [
        (r["span_id"][-1], r["depth"], r["offset_ms"], r["duration_ms"]) for r in trace.waterfall()
    ]
    assert rows == [
        ("a", 0, 0.0, 100.0),
        ("b", 1, 10.0, 40.0 - 10.0),
        ("c", 2, 20.0, 10.0),
        ("d", 1, 50.0, 40.0),
        ("e", 0, 120.0, 10.0),
    ]
    assert trace.span_count == 5
    assert trace.duration_ms == 130.0
    assert trace.services == ["api", "db", "worker"]
    assert root.kind == "server"
    assert root.attributes == {"http.route": "/"}
    failed = root.children[1]
    assert (failed.status, failed.status_message, failed.service) == ("error", "boom", "worker")


def test_the_logs_of_the_trace_come_along_in_time_order(world: World) -> None:
    trace = trace_of(world, "reader")
    assert [(log.body, round(log.offset_ms)) for log in trace.logs] == [
        ("calling", 35),
        ("done", 95),
    ]
    assert trace.logs[0].span_id == "000000000000000b"


def test_a_global_reader_sees_the_other_projects_part(world: World) -> None:
    trace = trace_of(world)
    assert trace.span_count == 6
    assert [c.span_id[-1] for c in trace.roots[0].children] == ["b", "d", "f"]
    assert [log.body for log in trace.logs] == ["calling", "beta log", "done"]


def test_a_trace_with_no_visible_span_is_not_found(world: World) -> None:
    world.add("spans", [span("0000000000000001", None, 0, 5, trace_id=OTHER_TRACE, project=B)])
    assert trace_of(world, trace_id=OTHER_TRACE).span_count == 1
    with pytest.raises(NotFound):
        trace_of(world, "reader", trace_id=OTHER_TRACE)
    with pytest.raises(NotFound):
        trace_of(world, trace_id="1" * 32)
    with pytest.raises(ValidationFailed):
        trace_of(world, trace_id="xyz")


def test_a_parent_cycle_still_lists_every_span_once(world: World) -> None:
    cyclic = "1" * 32
    world.add(
        "spans",
        [
            span("0000000000000001", "0000000000000002", 0, 10, trace_id=cyclic),
            span("0000000000000002", "0000000000000001", 5, 10, trace_id=cyclic),
        ],
    )
    trace = trace_of(world, trace_id=cyclic)
    assert [(s.span_id[-1], s.depth) for s in trace.spans()] == [("1", 0), ("2", 1)]
    assert trace.end - trace.start == timedelta(milliseconds=10)
