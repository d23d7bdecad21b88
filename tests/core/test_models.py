"""Conventions of the unified data model, and its constraints on a real SQLite database.

The PostgreSQL side is covered by compiling every table and index for that dialect here and
by the database fixtures of the service tests.
"""

from __future__ import annotations

import enum
import inspect
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias

import pytest
from sqlalchemy import Dialect, Engine, Enum, ForeignKeyConstraint, Table, UniqueConstraint, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateIndex, CreateTable

import platform_sdk.models as registry
from platform_sdk.agents.models import AgentSessionStatus
from platform_sdk.core.db import Base, make_engine, make_sessionmaker
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.deploy.models import DeploymentStatus
from platform_sdk.errors import IllegalTransition
from platform_sdk.git.models import MergeRequest, MergeRequestState
from platform_sdk.identity.models import Role, User, UserRole
from platform_sdk.notify.models import DeliveryStatus, NotificationStatus
from platform_sdk.observe.models import AlertRule, AlertState
from platform_sdk.pipelines.models import (
    Artifact,
    Pipeline,
    PipelineStep,
    RunStatus,
    StepStatus,
    TriggerKind,
)
from platform_sdk.projects.models import Comment, Issue, IssueState, Project
from platform_sdk.secrets.models import Secret

_TABLE_NAMES = """
    users roles permissions role_permissions user_roles delegations auth_sessions api_tokens
    projects issues comments webhooks webhook_deliveries merge_requests mr_reviews
    agent_sessions agent_messages pipelines pipeline_steps artifacts ops_repos deployments
    deployment_history metric_series alert_rules alert_events secrets notifications audit_log
    pushes lfs_objects notification_preferences
"""
EXPECTED_TABLES = frozenset(_TABLE_NAMES.split())

EXPECTED_MACHINES = {
    IssueState,
    MergeRequestState,
    DeliveryStatus,
    NotificationStatus,
    AgentSessionStatus,
    RunStatus,
    StepStatus,
    DeploymentStatus,
    AlertState,
}

DIALECTS: dict[str, Dialect] = {
    "postgresql": make_url("postgresql+psycopg://").get_dialect()(),
    "sqlite": make_url("sqlite://").get_dialect()(),
}

# Columns holding a state an application moves through; they must be status machines.
STATUS_COLUMN_NAMES = {"status", "state"}


def _module_enums(base: type[enum.Enum]) -> list[type[enum.Enum]]:
    found: list[type[enum.Enum]] = []
    for module in registry.MODEL_MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, base) and obj is not base and obj.__module__ == module.__name__:
                found.append(obj)
    return found


MACHINES: list[type[StatusEnum]] = [
    m for m in _module_enums(StatusEnum) if issubclass(m, StatusEnum)
]
TABLES: list[Table] = sorted(Base.metadata.tables.values(), key=lambda t: t.name)


# --- status machines -------------------------------------------------------------------------


def test_every_status_machine_is_found() -> None:
    assert set(MACHINES) == EXPECTED_MACHINES


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_transition_table_covers_all_members(machine: type[StatusEnum]) -> None:
    table = machine.transitions()
    assert set(table) == set(machine)
    for targets in table.values():
        assert targets <= set(machine)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_terminal_state_or_documented_cycle(machine: type[StatusEnum]) -> None:
    if not any(m.is_terminal for m in machine):
        assert "cyclic" in (machine.__doc__ or "").lower(), (
            f"{machine.__name__} has no terminal state; say why in its docstring ('Cyclic …')"
        )


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_state_reachable_from_the_first(machine: type[StatusEnum]) -> None:
    start = next(iter(machine))
    seen, todo = {start}, [start]
    while todo:
        for nxt in todo.pop().next_states:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(machine)


@pytest.mark.parametrize("cls", _module_enums(enum.Enum), ids=lambda c: c.__name__)
def test_enum_values_are_lowercase_strings(cls: type[enum.Enum]) -> None:
    for member in cls:
        assert isinstance(member.value, str)
        assert member.value == member.value.lower()
        assert re.fullmatch(r"[a-z][a-z0-9_]*", member.value)


# The designed moves, ``src>dst,dst …``: every pair listed is legal, every other is not.
EXPECTED_MOVES: dict[type[StatusEnum], str] = {
    IssueState: "open>closed closed>open",
    MergeRequestState: "open>merged,closed closed>open",
    DeliveryStatus: "pending>succeeded,retrying,failed retrying>succeeded,retrying,failed",
    NotificationStatus: "pending>sent,failed,skipped failed>pending",
    AgentSessionStatus: "pending>running,cancelled,failed "
    "running>waiting,completed,failed,cancelled waiting>running,completed,failed,cancelled",
    RunStatus: "pending>running,cancelled,failure running>success,failure,cancelled",
    StepStatus: "pending>running,skipped,cancelled running>success,failure,cancelled,pending",
    DeploymentStatus: "pending>running,cancelled running>succeeded,failed,cancelled",
    AlertState: "pending>firing,resolved firing>resolved",
}


def _moves(spec: str) -> set[tuple[str, str]]:
    pairs = set()
    for move in spec.split():
        src, targets = move.split(">")
        pairs |= {(src, dst) for dst in targets.split(",")}
    return pairs


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_transitions_are_exactly_the_designed_ones(machine: type[StatusEnum]) -> None:
    legal = _moves(EXPECTED_MOVES[machine])
    for src in machine:
        for dst in machine:
            if (src.value, dst.value) in legal:
                assert src.transition(dst) is dst
                continue
            with pytest.raises(IllegalTransition) as err:
                src.transition(dst)
            assert err.value.details == {"from": src.value, "to": dst.value}


def test_sample_transitions() -> None:
    assert MergeRequestState.MERGED.is_terminal
    assert StepStatus.RUNNING.transition(StepStatus.PENDING) is StepStatus.PENDING  # a retry
    with pytest.raises(IllegalTransition, match="cannot go from merged to open"):
        MergeRequestState.MERGED.transition(MergeRequestState.OPEN)
    with pytest.raises(IllegalTransition, match="terminal"):
        RunStatus.SUCCESS.transition(RunStatus.RUNNING)


# --- metadata conventions --------------------------------------------------------------------


def test_metadata_holds_exactly_the_expected_tables() -> None:
    assert len(EXPECTED_TABLES) == 32
    assert set(registry.metadata.tables) == EXPECTED_TABLES
    assert list(registry.ALL_TABLES) == sorted(EXPECTED_TABLES)
    assert registry.metadata is Base.metadata


def _leading_columns(table: Table) -> set[str]:
    leading = {table.primary_key.columns.values()[0].name}
    leading |= {next(iter(ix.columns)).name for ix in table.indexes if ix.columns}
    for cons in table.constraints:
        if isinstance(cons, UniqueConstraint) and len(cons.columns):
            leading.add(cons.columns.values()[0].name)
    return leading


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_foreign_key_is_indexed(table: Table) -> None:
    leading = _leading_columns(table)
    for fk in table.foreign_key_constraints:
        assert isinstance(fk, ForeignKeyConstraint)
        first = fk.columns.values()[0].name
        assert first in leading, f"{table.name}.{first} references without an index"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_foreign_keys_say_what_happens_on_delete(table: Table) -> None:
    for fk in table.foreign_key_constraints:
        assert fk.ondelete in {"CASCADE", "SET NULL", "RESTRICT"}, (table.name, fk.column_keys)
        if fk.ondelete == "SET NULL":
            assert all(col.nullable for col in fk.columns), (table.name, fk.column_keys)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_status_columns_are_checked_machines(table: Table) -> None:
    ddl = str(CreateTable(table).compile(dialect=DIALECTS["postgresql"]))
    for col in table.columns:
        if col.name in STATUS_COLUMN_NAMES:
            assert isinstance(col.type, Enum), f"{table.name}.{col.name} is not an enum"
            assert col.type.enum_class in EXPECTED_MACHINES, f"{table.name}.{col.name}"
        if isinstance(col.type, Enum):
            assert not col.type.native_enum
            assert re.search(rf"CHECK \({col.name} IN \(", ddl), f"{table.name}.{col.name}"


@pytest.mark.parametrize("dialect", list(DIALECTS.values()), ids=list(DIALECTS))
def test_schema_compiles_with_short_names(dialect: Dialect) -> None:
    names: list[str] = []
    for table in TABLES:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        names += re.findall(r"CONSTRAINT (\S+)", ddl)
        for ix in table.indexes:
            names += re.findall(r"INDEX (\S+) ON", str(CreateIndex(ix).compile(dialect=dialect)))
    assert len(names) == len(set(names)), "constraint or index names collide"
    too_long = [n for n in names if len(n) > 63]
    assert not too_long, f"PostgreSQL truncates identifiers over 63 characters: {too_long}"


@pytest.mark.parametrize("module", registry.MODEL_MODULES, ids=lambda m: m.__name__)
def test_model_modules_are_small(module: object) -> None:
    path = Path(inspect.getfile(module))  # type: ignore[arg-type]
    assert len(path.read_text().splitlines()) <= 400


# --- constraints on a real SQLite database ---------------------------------------------------

Factory: TypeAlias = sessionmaker[Session]
Seed: TypeAlias = dict[str, uuid.UUID]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Factory]:
    engine: Engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    registry.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _add(db: Factory, *objs: Base) -> None:
    with db.begin() as session:
        session.add_all(objs)


def _exec(db: Factory, sql: str, **params: object) -> None:
    with db.begin() as session:
        session.execute(text(sql), params)


@pytest.fixture
def seed(db: Factory) -> Seed:
    alice = User(username="alice")
    dev = Role(name="developer")
    _add(db, alice, dev)
    proj = Project(owner_id=alice.id, name="todo-app")
    _add(db, proj)
    return {"user": alice.id, "role": dev.id, "project": proj.id}


def test_global_role_binding_is_unique_but_coexists_with_project_binding(
    db: Factory, seed: Seed
) -> None:
    user, role, project = seed["user"], seed["role"], seed["project"]
    _add(db, UserRole(user_id=user, role_id=role))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, UserRole(user_id=user, role_id=role))
    _add(db, UserRole(user_id=user, role_id=role, project_id=project))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, UserRole(user_id=user, role_id=role, project_id=project))


def test_soft_deleted_projects_free_their_name(db: Factory, seed: Seed) -> None:
    owner, now = seed["user"], datetime.now(UTC)
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, Project(owner_id=owner, name="todo-app"))
    _exec(db, "UPDATE projects SET deleted_at = :now", now=now)
    _add(db, Project(owner_id=owner, name="todo-app", deleted_at=now))
    _add(db, Project(owner_id=owner, name="todo-app"))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, Project(owner_id=owner, name="todo-app"))
    with db() as session:
        rows = session.query(Project).filter_by(name="todo-app").all()
    assert sorted(p.deleted_at is None for p in rows) == [False, False, True]


def _mr(seed: Seed, number: int, state: MergeRequestState = MergeRequestState.OPEN) -> MergeRequest:
    return MergeRequest(
        project_id=seed["project"],
        number=number,
        title="t",
        source_branch="feature",
        target_branch="main",
        author_id=seed["user"],
        state=state,
    )


def test_comment_has_exactly_one_parent(db: Factory, seed: Seed) -> None:
    user, project = seed["user"], seed["project"]
    issue = Issue(project_id=project, number=1, title="Login fails", author_id=user, labels=["bug"])
    mr = _mr(seed, 1)
    _add(db, issue, mr)
    _add(db, Comment(issue_id=issue.id, author_id=user, body="repro"))
    _add(db, Comment(merge_request_id=mr.id, author_id=user, body="lgtm"))
    with pytest.raises(IntegrityError, match="CHECK"):
        _add(db, Comment(author_id=user, body="orphan"))
    with pytest.raises(IntegrityError, match="CHECK"):
        _add(db, Comment(issue_id=issue.id, merge_request_id=mr.id, author_id=user, body="x"))
    with db() as session:
        stored = session.get(Issue, issue.id)
        assert stored is not None
        assert stored.labels == ["bug"]
        assert stored.state is IssueState.OPEN
        assert stored.created_at.tzinfo is not None


def test_issue_numbers_unique_per_project_and_states_checked(db: Factory, seed: Seed) -> None:
    user, project = seed["user"], seed["project"]
    _add(db, Issue(project_id=project, number=1, title="a", author_id=user))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, Issue(project_id=project, number=1, title="b", author_id=user))
    with pytest.raises(IntegrityError, match="CHECK"):
        _exec(db, "UPDATE issues SET state = 'bogus'")


def test_one_open_merge_request_per_branch_pair(db: Factory, seed: Seed) -> None:
    merged, closed = MergeRequestState.MERGED, MergeRequestState.CLOSED
    _add(db, _mr(seed, 1, merged), _mr(seed, 2, closed), _mr(seed, 3))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, _mr(seed, 4))


def test_artifact_names_unique_per_step_and_per_run(db: Factory, seed: Seed) -> None:
    sha = "a" * 40
    run = Pipeline(
        project_id=seed["project"], number=1, trigger=TriggerKind.PUSH, ref="main", commit_sha=sha
    )
    _add(db, run)
    step = PipelineStep(pipeline_id=run.id, name="test", commands=["pytest"])
    _add(db, step)

    def art(step_id: uuid.UUID | None) -> Artifact:
        blob = {"blob_key": f"a/{uuid.uuid4()}", "size_bytes": 5_000_000_000, "sha256": "0" * 64}
        return Artifact(pipeline_id=run.id, step_id=step_id, name="report.xml", **blob)

    _add(db, art(step.id), art(None))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, art(step.id))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _add(db, art(None))


def test_global_and_project_rows_have_separate_unique_keys(db: Factory, seed: Seed) -> None:
    project = seed["project"]

    def secret(project_id: uuid.UUID | None, version: int = 1) -> Secret:
        return Secret(project_id=project_id, name="PW", version=version, ciphertext=b"", key_id="k")

    def rule(project_id: uuid.UUID | None) -> AlertRule:
        return AlertRule(project_id=project_id, name="errors", query="select 1", threshold=1.0)

    _add(db, secret(None), secret(project), secret(None, 2), secret(project, 2))
    _add(db, rule(None), rule(project))
    for duplicate in (secret(None), secret(project, 2), rule(None), rule(project)):
        with pytest.raises(IntegrityError, match="UNIQUE"):
            _add(db, duplicate)


def test_authors_cannot_be_deleted_and_projects_cascade(db: Factory, seed: Seed) -> None:
    user, project = seed["user"], seed["project"]
    _add(db, Issue(project_id=project, number=1, title="a", author_id=user))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        _exec(db, "DELETE FROM users WHERE id = :id", id=user.hex)
    _exec(db, "DELETE FROM projects WHERE id = :id", id=project.hex)
    with db() as session:
        assert session.query(Issue).count() == 0
