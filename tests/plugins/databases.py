"""Fresh migrated databases per test, on SQLite and on the local PostgreSQL server.

Each backend is migrated once per session into a template (a SQLite file; a PostgreSQL
database); every test then gets its own copy (a file copy; ``CREATE DATABASE … TEMPLATE``),
which is the analogue of a per-test database at a fraction of the cost of migrating each time.
The PostgreSQL copies are created and dropped on the local server by the tests themselves.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from platform_sdk.core import migrate
from platform_sdk.core.db import make_engine, make_sessionmaker

PG_ADMIN_URL = os.environ.get(
    "PLATFORM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE = os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1"
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def unavailable(what: str, how: str) -> None:
    """Fail when CI requires the service, skip otherwise."""
    message = f"{what} is not reachable; start it with: {how}"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


class PostgresServer:
    """Creates and drops databases on the local server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=None)

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        tmpl = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{tmpl}'))
        return self.url(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _name(kind: str) -> str:
    return f"platform_{kind}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer(PG_ADMIN_URL)
    try:
        with server.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        unavailable(f"PostgreSQL at {server.admin_url.host}:{server.admin_url.port}", START_PG)
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> Iterator[str]:
    name = _name("tmpl")
    engine = make_engine(pg_server.create(name))
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    pg_server.drop(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "platform.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def _fresh(request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "platform.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template") if migrated else None
    name = _name("test")
    url = server.create(name, template)
    try:
        yield url
    finally:
        server.drop(name)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of its own for this test, on each backend."""
    yield from _fresh(request, tmp_path, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own for this test (migration tests), on each backend."""
    yield from _fresh(request, tmp_path, migrated=False)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as db:
        yield db
