"""Portable column types and NULL-aware unique keys, on the migrated schema of both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from platform_sdk.identity.models import Role, User, UserRole
from platform_sdk.pipelines.models import PipelineStep
from platform_sdk.projects.models import Project


def _user(db: Session, name: str) -> User:
    user = User(username=name, email=f"{name}@example.test")
    db.add(user)
    db.flush()
    return user


def _project(db: Session, owner: User, name: str) -> Project:
    project = Project(owner_id=owner.id, name=name)
    db.add(project)
    db.flush()
    return project


def test_timestamps_come_back_aware_in_utc(session: Session) -> None:
    plus_two = timezone(timedelta(hours=2))
    when = datetime(2026, 1, 2, 15, 4, 5, 123456, tzinfo=plus_two)
    user = User(username="tz", last_login_at=when)
    session.add(user)
    session.commit()
    session.expire_all()
    got = session.scalars(select(User).where(User.username == "tz")).one().last_login_at
    assert got == when
    assert got is not None
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)
    # comparisons in SQL use the UTC instant, whatever offset the caller used
    found = session.scalars(
        select(User).where(User.last_login_at > datetime(2026, 1, 2, 13, 0, tzinfo=UTC))
    ).all()
    assert [u.username for u in found] == ["tz"]


def test_naive_timestamps_are_refused(session: Session) -> None:
    session.add(User(username="naive", last_login_at=datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_string_lists_and_json_round_trip(session: Session) -> None:
    owner = _user(session, "owner")
    project = _project(session, owner, "p")
    from platform_sdk.pipelines.models import Pipeline, TriggerKind

    run = Pipeline(
        project_id=project.id,
        number=1,
        trigger=TriggerKind.MANUAL,
        ref="refs/heads/main",
        commit_sha="a" * 40,
        parameters={"TARGET": "staging", "nested": {"n": [1, 2]}},
    )
    session.add(run)
    session.flush()
    step = PipelineStep(pipeline_id=run.id, name="test", commands=["pytest -q", "échec ✓"])
    session.add(step)
    session.commit()
    session.expire_all()
    got = session.get_one(PipelineStep, step.id)
    assert got.commands == ["pytest -q", "échec ✓"]
    assert session.get_one(Pipeline, run.id).parameters["nested"] == {"n": [1, 2]}


def test_global_role_binding_is_unique_though_project_is_null(session: Session) -> None:
    user = _user(session, "alice")
    role = Role(name="custom")
    session.add(role)
    session.flush()
    session.add(UserRole(user_id=user.id, role_id=role.id))
    session.commit()
    session.add(UserRole(user_id=user.id, role_id=role.id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_project_binding_coexists_with_global_but_not_with_itself(session: Session) -> None:
    user = _user(session, "bob")
    project = _project(session, user, "app")
    role = Role(name="custom2")
    session.add(role)
    session.flush()
    session.add_all(
        [
            UserRole(user_id=user.id, role_id=role.id),
            UserRole(user_id=user.id, role_id=role.id, project_id=project.id),
        ]
    )
    session.commit()
    session.add(UserRole(user_id=user.id, role_id=role.id, project_id=project.id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_soft_deleted_projects_free_their_name(session: Session) -> None:
    owner = _user(session, "carol")
    first = _project(session, owner, "todo")
    first.deleted_at = datetime.now(UTC)
    session.commit()
    _project(session, owner, "todo")  # the name is free again
    session.commit()
    session.add(Project(owner_id=owner.id, name="todo"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_status_columns_refuse_unknown_values_in_the_database(session: Session) -> None:
    owner = _user(session, "dave")
    _project(session, owner, "x")
    session.commit()
    with pytest.raises(IntegrityError, match=r"(?i)check"):
        session.execute(text("UPDATE projects SET visibility = 'secret' WHERE name = 'x'"))
    session.rollback()


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(UserRole(user_id=uuid.uuid4(), role_id=uuid.uuid4()))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_one_active_delegation_per_grant_and_revoked_ones_do_not_block(session: Session) -> None:
    from platform_sdk.identity.bootstrap import sync_catalogue
    from platform_sdk.identity.models import Delegation

    sync_catalogue(session)
    alice, agent = _user(session, "alice2"), _user(session, "agent7")
    grant = {"grantor_id": alice.id, "grantee_id": agent.id, "permission": "project:write"}
    first = Delegation(**grant)
    session.add(first)
    session.commit()
    session.add(Delegation(**grant))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    first.revoked_at = datetime.now(UTC)
    session.commit()
    session.add(Delegation(**grant))  # a revoked grant frees the slot
    session.commit()
    project = _project(session, alice, "scoped")
    session.add(Delegation(**grant, project_id=project.id))  # per project: a different key
    session.commit()


def test_self_delegation_is_refused_by_the_database(session: Session) -> None:
    from platform_sdk.identity.bootstrap import sync_catalogue
    from platform_sdk.identity.models import Delegation

    sync_catalogue(session)
    me = _user(session, "selfish")
    session.add(Delegation(grantor_id=me.id, grantee_id=me.id, permission="project:read"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
