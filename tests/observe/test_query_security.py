"""No SQL reaches rows of a project the actor may not ``observe:read``, and the sandbox holds:
no files, no ATTACH, no writes, one statement, bounded rows and time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from platform_sdk.core.access import Actor
from platform_sdk.errors import BadRequest, Unavailable
from platform_sdk.observe.otlp import decode_request
from platform_sdk.observe.services.query import sql
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.sdk import Platform
from tests.observe.samples import kv, logs_request, spans_request
from tests.plugins.platforms import People

PB = "application/x-protobuf"


def _seed(platform: Platform, project: str | None, logs: int, spans: int = 0) -> None:
    resource = {"service.name": "svc"}
    if project is not None:
        resource["platform.project"] = project
    spool = telemetry_of(platform.runtime).spool
    decoded = decode_request(
        "logs",
        logs_request(logs, resource=resource).SerializeToString(),
        PB,
        None,
        max_bytes=1 << 24,
    )
    spool.append("logs", decoded.table)
    if spans:
        request = spans_request()
        attributes = request.resource_spans[0].resource.attributes
        del attributes[:]
        attributes.extend(kv(k, v) for k, v in resource.items())
        decoded = decode_request(
            "traces",
            request.SerializeToString(),
            PB,
            None,
            max_bytes=1 << 24,
        )
        spool.append("spans", decoded.table)


@pytest.fixture
def world(platform: Platform, people: People) -> dict[str, Actor]:
    owner = people.user("owner", roles=("developer",))
    a = people.project(owner, "a")
    b = people.project(owner, "b")
    _seed(platform, "owner/a", 3, spans=1)
    _seed(platform, "owner/b", 4, spans=1)
    _seed(platform, None, 2)  # the platform's own
    telemetry_of(platform.runtime).flush()  # half in Parquet…
    _seed(platform, "owner/b", 1)  # …and some still in the spool
    return {
        "alice": people.user("alice", project_roles={a: ("viewer",)}),
        "bob": people.user("bob", project_roles={b: ("viewer",)}),
        "nobody": people.user("nobody"),
        "admin": people.user("root", roles=("admin",)),
    }


def _rows(platform: Platform, actor: Actor, query: str) -> list[dict[str, object]]:
    with platform.session() as db:
        return sql(db, actor=actor, query=query).table.to_pylist()


def test_each_actor_sees_only_its_projects(platform: Platform, world: dict[str, Actor]) -> None:
    count = "select project, count(*) as n from logs group by 1 order by 1 nulls last"
    assert _rows(platform, world["alice"], count) == [{"project": "owner/a", "n": 3}]
    assert _rows(platform, world["bob"], count) == [{"project": "owner/b", "n": 5}]
    assert _rows(platform, world["nobody"], count) == []
    assert _rows(platform, world["admin"], count) == [
        {"project": "owner/a", "n": 3},
        {"project": "owner/b", "n": 5},
        {"project": None, "n": 2},
    ]
    for query in (
        "select count(*) as n from logs where project = 'owner/b'",
        "select count(*) as n from spans where project <> 'owner/a'",
        "select count(*) as n from (select project from logs union all select project from spans"
        " union all select project from metrics) where project = 'owner/b' or project is null",
    ):
        assert _rows(platform, world["alice"], query) == [{"n": 0}]
    names = _rows(platform, world["alice"], "select full_name from projects order by 1")
    assert names == [{"full_name": "owner/a"}]


@pytest.mark.parametrize(
    "query",
    [
        "select * from read_parquet('{root}/telemetry/logs/**/*.parquet')",
        "select * from read_csv('/etc/passwd')",
        "attach '/tmp/x.db' as x",
        "copy (select 1) to '/tmp/out.csv'",
        "create table t as select 1",
        "delete from logs",
        "select 1; select 2",
        "set enable_external_access = true",
        "install httpfs",
        "select * from glob('/etc/*')",
    ],
)
def test_the_sandbox_refuses_files_writes_and_settings(
    platform: Platform, world: dict[str, Actor], query: str
) -> None:
    root = platform.runtime.blobs.url_root.removeprefix("file://")
    with pytest.raises(BadRequest):
        _rows(platform, world["alice"], query.replace("{root}", root))


def test_rows_and_time_are_bounded(platform: Platform, world: dict[str, Actor]) -> None:
    with platform.session() as db:
        result = sql(db, actor=world["admin"], query="select * from range(1000)", max_rows=10)
    assert result.table.num_rows == 10
    assert result.truncated
    with platform.session() as db, pytest.raises(Unavailable, match="longer than"):
        sql(
            db,
            actor=world["admin"],
            query="select count(*) from range(100000000000) a",
            timeout=0.5,
        )
    with platform.session() as db, pytest.raises(BadRequest, match=r"syntax|error"):
        sql(db, actor=world["admin"], query="select from where")


def test_sql_cannot_read_what_other_queries_spill(
    platform: Platform, world: dict[str, Actor], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """DuckDB's default spill directory (``.tmp`` under the working directory) is shared by
    every query of the server; a locked connection may still read it. Each query spills into
    a private directory of its own instead, so nothing planted or spilled there is readable."""
    shared = Path.cwd() / ".tmp"
    shared.mkdir(exist_ok=True)
    (shared / "spill.csv").write_text("secret,1\n")
    for query in (
        "select * from read_csv('.tmp/spill.csv')",
        f"select * from read_csv('{shared}/spill.csv')",  # noqa: S608 - the attack itself
        "select * from glob('.tmp/*')",
    ):
        with pytest.raises(BadRequest, match=r"not allowed|disabled"):
            _rows(platform, world["admin"], query)
    spills = _rows(platform, world["admin"], "select current_setting('temp_directory') as d")
    private = Path(str(spills[0]["d"]))
    assert private != shared
    assert private.name.startswith("platform-sql-")
    assert not private.exists()  # removed when the query ended


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_running_query_holds_no_database_lock(
    platform: Platform, world: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While DuckDB runs, another writer of the same SQLite file gets the write lock at once
    (a 30-s query must not delay every other user's writes by 30 s)."""
    from platform_sdk.observe.services import query as service

    path = make_url(platform.settings.database_url).database
    seen: list[str] = []
    real = service.run_sql

    def run_while_writing(*args: object, **kwargs: object) -> object:
        other = sqlite3.connect(str(path), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails with 'database is locked' if held
            other.execute("ROLLBACK")
            seen.append("write lock free")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "run_sql", run_while_writing)
    assert _rows(platform, world["alice"], "select count(*) as n from projects") == [{"n": 1}]
    assert seen == ["write lock free"]
