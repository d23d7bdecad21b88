"""The cost of a fresh migrated database per test: migrating vs copying a migrated template.

``tests/plugins/databases.py`` migrates one template per session and gives every test a copy.
This script measures that choice, on each backend, ``--repeat`` times (default 5):

* **upgrade**: an empty database brought to the newest revision by
  ``platform_sdk.core.migrate.upgrade`` (the baseline: what each test would pay without a
  template). On PostgreSQL the time includes ``CREATE DATABASE``.
* **copy template**: the copy the tests make. SQLite: ``shutil.copyfile`` of the migrated
  file. PostgreSQL: ``CREATE DATABASE x TEMPLATE tmpl`` (and, on PostgreSQL 15 or newer, the
  same with ``STRATEGY FILE_COPY``, the pre-15 way of copying).
* **create_all**: ``Base.metadata.create_all`` on an empty database (the second baseline: the
  schema from the models without Alembic; it records no revision).
* **empty** (PostgreSQL only): ``CREATE DATABASE`` alone, the floor every way pays.

Every database made is checked after the clock stops (at the newest revision, or every table
present for ``create_all``). The one-time cost of migrating the template is printed too.
PostgreSQL (``--pg-url``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
rows are skipped with a message when the server does not answer; every database this script
creates there is dropped with ``DROP DATABASE … WITH (FORCE)``, also on error, Ctrl-C or SIGTERM.
The ratios are each way's median time over the baselines' (below 1.00x it is cheaper).
Nothing is asserted: the script prints and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import alembic
import sqlalchemy
from _common import header, median, table, timed
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from platform_sdk.core import migrate
from platform_sdk.core.db import make_engine
from platform_sdk.models import ALL_TABLES, metadata

DEFAULT_PG_URL = os.environ.get(
    "PLATFORM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
UPGRADE = "upgrade"
CREATE_ALL = "create_all"


def check_migrated(url: str) -> None:
    engine = make_engine(url)
    try:
        state = migrate.schema_state(engine)
    finally:
        engine.dispose()
    if not state.is_current:
        raise RuntimeError(f"{url}: not migrated ({state.describe()})")


def check_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        missing = set(ALL_TABLES) - set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if missing:
        raise RuntimeError(f"{url}: tables missing: {sorted(missing)}")


def upgrade(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def create_all(url: str) -> None:
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


Way = tuple[str, Callable[[int], float]]  # name, run number -> seconds (checked, cleaned up)


def measure(ways: list[Way], repeat: int) -> dict[str, list[float]]:
    """Seconds per way and run; one untimed warm-up run each, order alternating per run."""
    for _, run in ways:
        run(-1)
    times: dict[str, list[float]] = {name: [] for name, _ in ways}
    for r in range(repeat):
        for name, run in ways if r % 2 == 0 else list(reversed(ways)):
            times[name].append(run(r))
    return times


def rows_for(backend: str, times: dict[str, list[float]]) -> list[list[str]]:
    base_upgrade = median(times[UPGRADE])
    base_create = median(times[CREATE_ALL])
    rows = []
    for name, samples in times.items():
        mid = median(samples)
        rows.append(
            [
                backend,
                name,
                f"{mid * 1000:.1f} ms",
                f"{min(samples) * 1000:.1f} ms",
                f"{mid / base_upgrade:.3f}x",
                f"{mid / base_create:.3f}x",
            ]
        )
    return rows


# -- SQLite ----------------------------------------------------------------------------------
def bench_sqlite(repeat: int, base_dir: str | None) -> list[list[str]]:
    with tempfile.TemporaryDirectory(prefix="platform-bench-db-", dir=base_dir) as tmp:
        root = Path(tmp)
        template = root / "template.db"
        seconds = timed(lambda: upgrade(f"sqlite:///{template}"))
        check_migrated(f"sqlite:///{template}")
        print(f"sqlite: template migrated once in {seconds * 1000:.1f} ms ({root})")

        def fresh(kind: str, r: int) -> Path:
            return root / f"{kind}-{r}-{uuid.uuid4().hex[:8]}.db"

        def remove(path: Path) -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        def via(kind: str, make: Callable[[Path], None], check: Callable[[str], None]) -> Way:
            def run(r: int) -> float:
                path = fresh(kind, r)
                try:
                    seconds = timed(lambda: make(path))
                    check(f"sqlite:///{path}")
                finally:
                    remove(path)
                return seconds

            return kind, run

        ways = [
            via(UPGRADE, lambda p: upgrade(f"sqlite:///{p}"), check_migrated),
            via("copy template", lambda p: shutil.copyfile(template, p), check_migrated),
            via(CREATE_ALL, lambda p: create_all(f"sqlite:///{p}"), check_tables),
        ]
        return rows_for("sqlite", measure(ways, repeat))


# -- PostgreSQL ------------------------------------------------------------------------------
class Postgres:
    """Creates databases on the server and drops every one of them in ``close``."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def version(self) -> tuple[int, str]:
        with self.admin.connect() as conn:
            num = int(conn.execute(text("SHOW server_version_num")).scalar_one())
            full = str(conn.execute(text("SHOW server_version")).scalar_one())
        return num, full

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, kind: str, template: str | None = None, strategy: str | None = None) -> str:
        name = f"bench_{kind}_{uuid.uuid4().hex[:12]}"
        self.created.append(name)  # before: a half-made database is dropped too
        sql = f'CREATE DATABASE "{name}"'
        if template:
            sql += f' TEMPLATE "{template}"'
        if strategy:
            sql += f" STRATEGY {strategy}"
        with self.admin.connect() as conn:
            conn.execute(text(sql))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.remove(name)

    def close(self) -> None:
        failed = []
        for name in list(self.created):
            try:
                self.drop(name)
            except Exception as exc:  # keep dropping the others; report this one
                failed.append(f"{name} ({exc})")
        self.admin.dispose()
        if failed:
            print(f"postgres: could NOT drop: {', '.join(failed)}")


def bench_postgres(pg: Postgres, repeat: int) -> list[list[str]]:
    number, _ = pg.version()
    holder: dict[str, str] = {}

    def make_template() -> None:
        holder["name"] = pg.create("tmpl")
        upgrade(pg.url(holder["name"]))

    seconds = timed(make_template)
    template = holder["name"]
    check_migrated(pg.url(template))
    print(f"postgres: template {template} migrated once in {seconds * 1000:.1f} ms")
    drops: list[float] = []

    def via(kind: str, make: Callable[[], str], check: Callable[[str], None] | None) -> Way:
        def run(r: int) -> float:
            made: list[str] = []

            def go() -> None:
                made.append(make())

            try:
                seconds = timed(go)
                if check is not None:
                    check(pg.url(made[0]))
            finally:
                for name in made:
                    drops.append(timed(lambda name=name: pg.drop(name)))
            return seconds

        return kind, run

    def migrated() -> str:
        name = pg.create("upgrade")
        upgrade(pg.url(name))
        return name

    def created_all() -> str:
        name = pg.create("createall")
        create_all(pg.url(name))
        return name

    ways = [
        via(UPGRADE, migrated, check_migrated),
        via("copy template", lambda: pg.create("copy", template), check_migrated),
    ]
    if number >= 150000:

        def file_copy() -> str:
            return pg.create("copyfc", template, "FILE_COPY")

        ways.append(via("copy template, FILE_COPY", file_copy, check_migrated))
    ways += [
        via(CREATE_ALL, created_all, check_tables),
        via("empty (CREATE DATABASE only)", lambda: pg.create("empty"), None),
    ]
    rows = rows_for("postgres", measure(ways, repeat))
    print(
        f"postgres: each DROP DATABASE … WITH (FORCE) took {median(drops) * 1000:.1f} ms (median)"
    )
    return rows


def pg_unreachable(pg: Postgres) -> str | None:
    try:
        with pg.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per figure")
    parser.add_argument("--repeat", type=int, help="runs per figure, median kept (default 5)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL admin database")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "all"], default="all", help="default: all"
    )
    parser.add_argument("--dir", help="parent of the SQLite temporary folder (default: $TMPDIR)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 5)
    # Turn SIGTERM into SystemExit so the ``finally`` below still drops the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    pg = Postgres(args.pg_url) if args.backend in ("postgres", "all") else None
    why_not = pg_unreachable(pg) if pg is not None else "not selected"
    revisions = migrate.history()
    extra = {
        "sqlalchemy": sqlalchemy.__version__,
        "alembic": alembic.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg.version()[1] if pg is not None and why_not is None else "unreachable",
        "schema": f"{len(ALL_TABLES)} tables, {len(revisions)} revision(s), head "
        f"{revisions[0]['revision'] if revisions else '-'}",
        "runs per figure": f"{repeat} (median) after 1 warm-up",
    }
    header("bench_db: a fresh migrated database per test", extra)

    rows: list[list[str]] = []
    try:
        if args.backend in ("sqlite", "all"):
            rows += bench_sqlite(repeat, args.dir)
        if pg is not None and why_not is None:
            rows += bench_postgres(pg, repeat)
        elif pg is not None:
            print(
                f"skipping the PostgreSQL rows: {pg.admin_url.host}:{pg.admin_url.port} is not "
                f"reachable ({why_not}); start it with: {START_PG}"
            )
    finally:
        if pg is not None:
            pg.close()
    print()
    columns = ["backend", "fresh database by", "median", "min", "/ upgrade", "/ create_all"]
    table(columns, rows, right_from=2)
    print("\n/ upgrade, / create_all = this way's median time over that baseline's median time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
