"""The relational store: declarative base, engine and sessions.

One metadata for every capability's tables, with a naming convention so constraint names are
stable across SQLite and PostgreSQL (Alembic needs names to alter constraints in batch mode).
SQLite gets foreign keys, WAL and a busy timeout; PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Index, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool

from platform_sdk.core.types import JSONType, StringList, UTCDateTime, utcnow

__all__ = [
    "Base",
    "IdMixin",
    "TimestampMixin",
    "make_engine",
    "make_sessionmaker",
    "partial_unique",
    "release",
    "session_scope",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table of the platform."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType(),
        list[str]: StringList(),
    }

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} {ident}>"


class IdMixin:
    """A random UUID primary key."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    """``created_at`` and ``updated_at``, set by the application in UTC."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def partial_unique(name: str, *cols: str, where: str) -> Index:
    """A unique index over the rows matching ``where``, on SQLite and PostgreSQL alike.

    Use it where a UNIQUE must hold although a column may be NULL (NULLs are distinct in a
    plain UNIQUE on both databases): one index for the NULL rows, one for the others.
    """
    return Index(name, *cols, unique=True, sqlite_where=text(where), postgresql_where=text(where))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite starts transactions itself, and only before DML: a SAVEPOINT issued first
    # (``begin_nested``) would then run outside any transaction and its RELEASE would
    # commit. Turn that off and let SQLAlchemy emit BEGIN (``_sqlite_begin``).
    # BEGIN IMMEDIATE takes the write lock at the start (waiting up to busy_timeout), as
    # Django's "IMMEDIATE" transaction mode does: a deferred transaction that read first and
    # writes later fails at once with "database is locked" when another writer got in between.
    # SQLite has one writer at a time anyway; PostgreSQL is the store for concurrency.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings the platform relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(parsed, **kwargs)


def make_sessionmaker(
    engine: Engine, *, info: dict[str, Any] | None = None
) -> sessionmaker[Session]:
    """Sessions over ``engine``; ``info`` is copied into every session's ``info``."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True, info=info or {})


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def release(db: Session) -> None:
    """End ``db``'s transaction before a long operation (a DuckDB query, a git process, a
    step) that needs nothing more from the database: what was read stays usable
    (``expire_on_commit`` is off) and the next statement begins a new transaction. On SQLite
    every transaction holds the write lock (``BEGIN IMMEDIATE``), so a transaction left open
    across a 30-s query would hold every other writer for 30 s."""
    db.commit()
