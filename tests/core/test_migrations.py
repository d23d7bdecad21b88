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
    path = migrate.new_revision(engine, "Nothing changed yet", autogenerate=True)
    engine.dispose()
    assert path.name.startswith("0002_nothing_changed_yet")
    text = path.read_text()
    assert 'down_revision: str | Sequence[str] | None = "0001"' in text
    assert "Nothing changed yet" in text
