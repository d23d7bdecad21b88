"""Migrations on both databases: create every table, no drift, round-trip, and drift caught."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, inspect

from platform_sdk.core import migrate
from platform_sdk.core.db import make_engine
from platform_sdk.errors import SchemaOutdated
from platform_sdk.models import ALL_TABLES, metadata


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_matches_the_models(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    assert migrate.schema_state(engine).is_empty
    migrate.upgrade(engine)
    assert _tables(empty_db_url) == set(ALL_TABLES) | {"alembic_version"}
    assert migrate.schema_state(engine).is_current
    assert migrate.check_drift(engine, metadata) == []
    engine.dispose()


def test_revert_to_base_and_upgrade_round_trips(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert _tables(empty_db_url) <= {"alembic_version"}
    assert migrate.schema_state(engine).is_empty
    migrate.upgrade(engine)
    assert _tables(empty_db_url) == set(ALL_TABLES) | {"alembic_version"}
    assert migrate.check_drift(engine, metadata) == []
    engine.dispose()


def test_drift_between_models_and_migrations_is_reported(db_url: str) -> None:
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["issues"].append_column(Column("priority", Integer, nullable=True))
    engine = make_engine(db_url)
    diffs = migrate.check_drift(engine, changed)
    engine.dispose()
    assert any(d[0] == "add_column" and d[3].name == "priority" for d in diffs), diffs


def test_an_empty_database_is_refused_naming_platform_init(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    with pytest.raises(SchemaOutdated, match="run `platform init`"):
        migrate.ensure_current(engine)
    engine.dispose()


def test_a_database_behind_the_code_names_platform_db_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000_older'")
    with pytest.raises(SchemaOutdated, match="run `platform db upgrade`") as info:
        migrate.ensure_current(engine)
    assert info.value.details["current"] == ["0000_older"]
    engine.dispose()


def test_new_revision_writes_a_numbered_lint_clean_script(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    """`platform db new` autogenerates into a copy of the scripts folder (never the repo's)."""
    import shutil
    from pathlib import Path

    scripts = Path(str(tmp_path)) / "migrations"
    shutil.copytree(migrate.migrations_dir(), scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "migrations_dir", lambda: scripts)
    engine = make_engine(db_url)
    (head,) = migrate.schema_state(engine).heads
    path = migrate.new_revision(engine, "Nothing changed yet", autogenerate=True)
    engine.dispose()
    assert path.name.startswith(f"{int(head) + 1:04d}_nothing_changed_yet")
    text = path.read_text()
    assert f'down_revision: str | Sequence[str] | None = "{head}"' in text
    assert "Nothing changed yet" in text


def test_0002_keeps_existing_rows_and_widens_notification_channels(empty_db_url: str) -> None:
    """Rows written under 0001 survive 0002: projects get no protected branches."""
    import uuid

    from sqlalchemy import text

    engine = make_engine(empty_db_url)
    migrate.upgrade(engine, "0001")
    uid, pid = uuid.uuid4(), uuid.uuid4()
    hexed = engine.dialect.name == "sqlite"
    u, p = (uid.hex, pid.hex) if hexed else (str(uid), str(pid))
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, kind, is_active, created_at, updated_at) "
                "VALUES (:id, 'old', 'human', true, :now, :now)"
            ),
            {"id": u, "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO projects (id, owner_id, name, description, visibility, "
                "default_branch, next_issue_number, next_mr_number, next_pipeline_number, "
                "created_at, updated_at) VALUES (:id, :owner, 'legacy', '', 'private', 'main', "
                "1, 1, 1, :now, :now)"
            ),
            {"id": p, "owner": u, "now": now},
        )
    migrate.upgrade(engine)
    from sqlalchemy.orm import Session

    from platform_sdk.projects.models import Project

    with Session(engine) as db:
        assert db.get_one(Project, pid).protected_branches == []
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notifications (id, user_id, kind, title, body, channel, status, "
                "created_at) VALUES (:id, :u, 'k', 't', 'b', 'webhook', 'pending', :now)"
            ),
            {"id": uuid.uuid4().hex if hexed else str(uuid.uuid4()), "u": u, "now": now},
        )
    assert migrate.check_drift(engine, metadata) == []
    engine.dispose()


def test_check_constraints_survive_batch_migrations(empty_db_url: str) -> None:
    """SQLite batch migrations recreate tables: the status CHECK constraints must come along
    (0003 widened ``alert_rules.comparator`` to ``absent`` and added ``kind``)."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    insert = text(
        "INSERT INTO alert_rules (id, name, description, kind, spec, query, comparator, "
        "threshold, for_seconds, interval_seconds, severity, enabled, channels, created_at, "
        "updated_at) VALUES (:id, :name, '', :kind, '{}', 'select 1', :cmp, 1, 0, 60, "
        "'warning', true, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )

    def row(kind: str, cmp: str) -> dict[str, str]:
        ident = uuid.uuid4()
        key = ident.hex if engine.dialect.name == "sqlite" else str(ident)
        return {"id": key, "name": f"{kind}-{cmp}", "kind": kind, "cmp": cmp}

    try:
        with engine.begin() as conn:
            conn.execute(insert, row("log", "absent"))
        for kind, cmp in (("log", "bogus"), ("bogus", "gt")):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(insert, row(kind, cmp))
    finally:
        engine.dispose()
