"""session_timeline: logs, spans, audit rows and pipeline runs of a session, in time order."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from platform_sdk.core.access import Actor
from platform_sdk.core.audit import record
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.services.explore_session import session_timeline
from platform_sdk.pipelines.models import Pipeline, RunStatus, TriggerKind
from platform_sdk.sdk import Platform
from tests.observe.explore_data import B, World, at, make_world
from tests.plugins.platforms import People

RUN_ID = uuid.UUID("5b8efff798038103d269b633813fc60c")


def audit(world: World, who: Actor, action: str, when: datetime, project: uuid.UUID) -> None:
    with world.db() as db:
        record(db, who, action, project_id=project).at = when


def run(world: World, number: int, when: datetime, by: Actor | None, **extra: object) -> None:
    with world.db() as db:
        db.add(
            Pipeline(
                project_id=world.alpha,
                number=number,
                trigger=TriggerKind.MANUAL,
                ref="main",
                commit_sha="c0ffee",
                status=RunStatus.SUCCESS,
                triggered_by_id=by.user_id if by else None,
                created_at=when,
                **extra,
            )
        )


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    w = make_world(platform, people)
    w.add("logs", [{"timestamp": at(0), "session_id": "s1", "user_id": "olga", "body": "begin"}])
    w.add(
        "spans",
        [
            {
                "timestamp": at(2),
                "start": at(2),
                "end": at(2.5),
                "duration_ms": 500.0,
                "session_id": "s1",
                "user_id": str(w.owner.user_id),
                "name": "tool.call",
                "trace_id": RUN_ID.hex,
                "span_id": "00000000000000aa",
                "kind": "client",
            }
        ],
    )
    w.flush()
    w.add(
        "logs",
        [
            {"timestamp": at(5), "session_id": "s1", "body": "x" * 300, "severity": "INFO"},
            {"timestamp": at(4.5), "session_id": "s1", "project": B, "body": "beta part"},
            {"timestamp": at(3), "session_id": "s2", "body": "another session"},
        ],
    )
    audit(w, w.owner, "issue.create", at(3), w.alpha)
    audit(w, w.owner, "issue.close", at(3600), w.alpha)  # after the session
    audit(w, w.reader, "issue.comment", at(3), w.alpha)  # someone else
    audit(w, w.owner, "project.update", at(4), w.beta)  # a project the reader cannot see
    run(w, 1, at(4), w.owner)  # triggered by the session's user while it ran
    run(w, 2, at(1.5), None, id=RUN_ID)  # its trace id is on the session's span
    run(w, 3, at(4), None)  # unrelated
    return w


def timeline(world: World, actor: Actor, session: str = "s1") -> list[tuple[float, str, str]]:
    with world.db() as db:
        table = session_timeline(db, actor=actor, session_id=session)
    assert table.column_names == [
        "timestamp",
        "kind",
        "name",
        "service",
        "trace_id",
        "span_id",
        "details",
    ]
    return [
        ((r["timestamp"] - at(0)).total_seconds(), r["kind"], r["name"][:12])
        for r in table.to_pylist()
    ]


def test_everything_the_session_did_in_order(world: World) -> None:
    assert timeline(world, world.reader) == [
        (0, "log", "begin"),
        (1.5, "pipeline", "pipeline #2 "),
        (2, "span", "tool.call"),
        (3, "audit", "issue.create"),
        (4, "pipeline", "pipeline #1 "),
        (5, "log", "x" * 12),
    ]


def test_a_global_reader_also_sees_the_other_projects_rows(world: World) -> None:
    kinds = timeline(world, world.admin)
    assert (4, "audit", "project.upda") in kinds
    assert (4.5, "log", "beta part") in kinds
    assert len(kinds) == 8


def test_details_carry_the_rest_as_json(world: World) -> None:
    with world.db() as db:
        table = session_timeline(db, actor=world.reader, session_id="s1")
    details = {r["kind"] + r["name"][:4]: json.loads(r["details"]) for r in table.to_pylist()}
    assert details["spantool"]["duration_ms"] == 500.0
    assert details["spantool"]["kind"] == "client"
    assert details["logxxxx"]["body"] == "x" * 300
    assert details["pipelinepipe"]["project"] == "olga/alpha"
    assert details["auditissu"]["actor"] == "olga"
    (span,) = [r for r in table.to_pylist() if r["kind"] == "span"]
    assert (span["trace_id"], span["span_id"], span["service"]) == (
        RUN_ID.hex,
        "00000000000000aa",
        "api",
    )


def test_an_unknown_or_invisible_session_is_not_found(world: World) -> None:
    world.add("logs", [{"timestamp": at(1), "session_id": "s3", "project": B, "body": "b"}])
    assert timeline(world, world.admin, "s3") == [(1, "log", "b")]
    with pytest.raises(NotFound):
        timeline(world, world.reader, "s3")
    with pytest.raises(NotFound):
        timeline(world, world.reader, "nope")
    with world.db() as db, pytest.raises(ValidationFailed):
        session_timeline(db, actor=world.reader, session_id="s1", limit=0)
